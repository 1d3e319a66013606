// API types, derived from the generated OpenAPI schema (src/api/schema.d.ts, produced by
// `npm run gen:api` from docs/openapi.json). Every screen imports its types from this file
// only. Do not hand-write API shapes here: alias the schema instead. Only purely UI-side
// helpers (the `Strategy` list etc.) are hand-written.

import type { components } from './schema';

type S = components['schemas'];

export type Millis = number;

export type Language = S['Language'];
export type PopupMode = S['PopupMode'];
export type FreeDesk = S['FreeDesk'];
export type HistoryOrder = S['SortOrder'];
export type NumberDisplay = S['NumberDisplay'];
export type CallerIdHeader = S['CallerIdHeader'];

// ---------------------------------------------------------------------------------------------
// Envelopes

export type Audit = S['Stamps'];
export type ApiErrorItem = S['FieldError'];
export type ApiErrorBody = S['ErrorBody'];

/** Every list endpoint answers `{items, total}`. */
export interface ListResponse<T> {
  items: T[];
  total: number;
}

/** One change-history entry; each value of `changes` is `[old, new]`. */
export type HistoryEntry = Omit<S['Change'], 'changes' | 'action'> & {
  action: 'create' | 'update' | 'delete' | (string & {});
  changes: Record<string, [unknown, unknown]>;
};

// ---------------------------------------------------------------------------------------------
// Session

export type User = Agent;
export type Me = Omit<S['Me'], 'user'> & { user: User };
export type LoginRequest = S['LoginRequest'];
export type LoginResponse = Me;
export type MePatch = S['MePatch'];
export type PasswordChange = S['PasswordChange'];

// ---------------------------------------------------------------------------------------------
// Collections: item (fields + stamps + id) and input (body of POST/PATCH)

export type Target = S['Target'];
export type TargetKind = Target['kind'];

export type Agent = S['Agent'];
export type AgentInput = S['AgentInput'];

export type PermissionDef = S['PermissionInfo'];
export type PermissionCatalog = S['PermissionCatalog'];
export type Role = S['Role'];
export type RoleRef = S['RoleRef'];
export type RoleInput = S['RoleInput'];

export type Terminal = S['Terminal'];
export type TerminalInput = S['TerminalInput'];

/** `Number` in the schema; renamed so it does not shadow the global `Number`. */
export type PhoneNumber = S['Number'];
export type PhoneNumberInput = S['NumberInput'];

export type GroupMember = S['Member'];
export type GroupMemberInput = S['MemberInput'];
export type Group = S['Group'];
export type GroupInput = S['GroupInput'];

export type AgentStatus = S['AgentStatus'];
export type AgentStatusInput = S['AgentStatusInput'];

export type Trunk = S['Trunk'];
export type TrunkInput = S['TrunkInput'];

export type IncomingBlock = S['IncomingBlock'];
export type IncomingBlockInput = S['IncomingBlockInput'];

export type OutboundRestriction = S['OutboundRestriction'];
export type OutboundRestrictionInput = S['OutboundRestrictionInput'];
export type UploadResult = S['UploadResult'];

export type VoiceFile = S['VoiceFile'];
export type VoiceFileInput = S['VoiceFileInput'];

export type CallRecord = S['CallRecord'];
export type CallKind = S['CallKind'];
export type CallFilterChoices = S['CallFilterChoices'];

// ---------------------------------------------------------------------------------------------
// UI-side (the schema types these as plain strings)

/** Ring strategies offered on the group screen (GroupFields.strategy). */
export type Strategy = 'ring_all' | 'longest_idle' | 'shortest_talk' | 'random' | 'round_robin' | 'level_ratio';

// ---------------------------------------------------------------------------------------------
// Live side (agent state, realtime, WebSocket): the engine's and the browser phone's own types
// (engine::agent_state, engine::realtime, engine::live, phone_signal), described in the schema.

export type Pause = S['Pause'];
/** What an agent is in one group (STATUS-02). */
export type LiveStatus = S['LiveStatus'];
export type GroupLiveStatus = S['GroupLiveStatus'];
/** GET/PUT /agents/{id}/state */
export type AgentLiveState = S['AgentState'];
export type AgentStateInput = S['AgentStateInput'];

/** A line of the realtime group table (RT-02); `group` null = the All row. */
export type RealtimeRow = S['RealtimeRow'];
export type RealtimeWaiting = S['RealtimeWaiting'];
export type RealtimeAgent = S['RealtimeAgent'];
export type RealtimeStatusCount = S['RealtimeStatusCount'];
export type RealtimeDetail = S['RealtimeDetail'];
export type RealtimeBucket = S['RealtimeBucket'];
/** GET /realtime[?group=ID&hours=N] */
export type RealtimeResponse = S['Realtime'];
/** GET /presence/groups: the groups of the presence panel, the header tags and the RT table. */
export type PresenceGroup = S['PresenceGroup'];
/** GET /presence/groups/{id}: an agent of the group and their status in it (null = unknown). */
export type PresenceAgent = S['PresenceAgent'];
/** PUT /groups/{id}/skill-level (RT-11). */
export type SkillLevelInput = S['SkillLevelInput'];

/** Messages of GET /ws from the server. */
export type LiveMessage = S['WsMessage'];
/** Messages of GET /ws from the browser (the browser phone's commands). */
export type WsCommand = S['WsCommand'];

/** GET /phone: the browser phone panel's data (PHONE-03/04). */
export type PhoneInfo = S['PhoneInfo'];

/** The browser phone's signalling from the server (over GET /ws). */
export type PhoneMessage = S['PhoneEvent'];

/** Pushed to the agent whose phone rings for a queue call (NUM-07/09, PREF pop-up options). */
export type IncomingCall = Extract<S['LiveEvent'], { type: 'incoming_call' }>;

export type SystemSettings = S['SystemSettings'];
export type S3SettingsView = S['S3SettingsView'];
export type S3TestResult = S['S3TestResult'];
export type MailSettingsView = S['MailSettingsView'];
export type MailTestResult = S['MailTestResult'];
export type OutboxItem = S['OutboxItem'];
export type RecordingArchive = S['RecordingArchive'];
export type Voicemail = S['Voicemail'];
export type S3Link = S['S3Link'];
export type Ivr = S['IvrRecord'];
export type IvrEntry = S['IvrEntry'];
export type IvrInput = S['IvrInput'];
export type Forwarding = S['Forwarding'];
export type ForwardingInput = S['ForwardingInput'];
