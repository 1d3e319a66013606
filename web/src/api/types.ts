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
