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
// Live side (agent state, realtime, WebSocket). The schema types the status as a free object
// and the realtime answer not at all, so these mirror the engine's serde shapes
// (engine::agent_state::AgentStatus, engine::realtime::{GroupRow, GroupDetail, AgentRow, Bucket}).

/** engine::agent_state::Pause */
export type Pause =
  | { kind: 'manual' }
  | { kind: 'no_answer' }
  | { kind: 'custom'; status_id: number }
  | { kind: 'acw'; status_id: number };

/** engine::agent_state::AgentStatus — what an agent is in one group (STATUS-02). */
export type LiveStatus =
  | { status: 'offline' | 'available' | 'ringing' | 'on_call' | 'on_hold' }
  | { status: 'paused'; pause: Pause };

export interface GroupLiveStatus {
  group: number;
  status: LiveStatus;
}
/** GET/PUT /agents/{id}/state */
export type AgentLiveState = Omit<S['AgentState'], 'groups'> & { groups: GroupLiveStatus[] };
export type AgentStateInput = S['AgentStateInput'];

/** A line of the realtime group table (RT-02); `group` null = the All row. */
export interface RealtimeRow {
  group: number | null;
  incoming: number;
  answered: number;
  abandoned: number;
  overflow: number;
  timeout: number;
  answer_rate_pct: number | null;
  agents_online: number;
  agents_total: number;
  on_call: number;
  available: number;
  paused: number;
  waiting: number;
}
export interface RealtimeWaiting {
  call: number;
  since: Millis;
}
export interface RealtimeAgent {
  agent: number;
  status: LiveStatus;
  skill_level: number;
  last_call_ms: Millis | null;
  calls_today: number;
}
export interface RealtimeStatusCount {
  status: LiveStatus;
  count: number;
}
export interface RealtimeDetail {
  row: RealtimeRow;
  waiting: RealtimeWaiting[];
  agents: RealtimeAgent[];
  status_counts: RealtimeStatusCount[];
}
export interface RealtimeBucket {
  start: Millis;
  incoming: number;
  answered: number;
  abandoned: number;
  answer_rate: number | null;
}
/** GET /realtime[?group=ID&hours=N] */
export interface RealtimeResponse {
  groups: RealtimeRow[];
  all: RealtimeRow;
  now: Millis;
  detail?: RealtimeDetail | null;
  buckets?: RealtimeBucket[];
}
/** GET /presence/groups: the groups of the presence panel, the header tags and the RT table. */
export type PresenceGroup = S['PresenceGroup'];
/** GET /presence/groups/{id}: an agent of the group and their status in it (null = unknown). */
export type PresenceAgent = Omit<S['PresenceAgent'], 'status'> & { status: LiveStatus | null };
/** PUT /groups/{id}/skill-level (RT-11). */
export type SkillLevelInput = S['SkillLevelInput'];

/** Messages of GET /ws. */
export type LiveMessage =
  | { type: 'agent_status'; agent: number; statuses: GroupLiveStatus[] }
  | { type: 'realtime' }
  | { type: 'resync' }
  | IncomingCall
  | (Omit<IncomingCall, 'type'> & { type: 'call_answered' })
  | PhoneMessage;

/** GET /phone: the browser phone panel's data (PHONE-03/04). */
export type PhoneInfo = S['PhoneInfo'];

/** The browser phone's signalling from the server (over GET /ws). */
export type PhoneMessage =
  | { type: 'phone_state'; on: boolean; reason?: string }
  | { type: 'phone_incoming'; call: string; caller: string }
  | { type: 'phone_answer_sdp'; call: string; sdp: string }
  | { type: 'phone_dialing'; call: string; number: string }
  | { type: 'phone_ringing'; call: string }
  | { type: 'phone_connected'; call: string }
  | { type: 'phone_media'; call: string; connected: boolean }
  | { type: 'phone_hold'; call: string; hold: boolean }
  | { type: 'phone_ended'; call: string; reason: string; status?: number; message?: string }
  | { type: 'phone_error'; call?: string; message: string };

/** Pushed to the agent whose phone rings for a queue call (NUM-07/09, PREF pop-up options). */
export interface IncomingCall {
  type: 'incoming_call';
  agent: number;
  call: number;
  caller: string;
  number: string;
  number_name: string;
  message: string;
  popup_url: string;
  /** The number's answer pop-up URL (NUM-08), opened on answer when the agent wants it. */
  answer_popup_url: string;
  group: number;
}
