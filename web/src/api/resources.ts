import { api, collection, qs, sendForm, upload } from './client';
import type {
  Voicemail,
  Agent,
  AgentLiveState,
  AgentStateInput,
  RealtimeResponse,
  AgentInput,
  AgentStatus,
  AgentStatusInput,
  CallFilterChoices,
  CallRecord,
  Group,
  GroupInput,
  GroupMember,
  ListResponse,
  PresenceAgent,
  PresenceGroup,
  SkillLevelInput,
  IncomingBlock,
  IncomingBlockInput,
  OutboundRestriction,
  OutboundRestrictionInput,
  PhoneNumber,
  PhoneNumberInput,
  Role,
  RoleInput,
  Terminal,
  TerminalInput,
  Trunk,
  TrunkInput,
  UploadResult,
  VoiceFile,
  VoiceFileInput,
  Ivr,
  IvrInput,
  Forwarding,
  ForwardingInput,
} from './types';

export const agents = collection<Agent, AgentInput>('agents');
export const roles = collection<Role, RoleInput>('roles');
export const terminals = collection<Terminal, TerminalInput>('terminals');
export const numbers = collection<PhoneNumber, PhoneNumberInput>('numbers');
export const groups = collection<Group, GroupInput>('groups');
export const agentStatuses = collection<AgentStatus, AgentStatusInput>('agent-statuses');
export const trunks = collection<Trunk, TrunkInput>('trunks');
export const incomingBlocks = collection<IncomingBlock, IncomingBlockInput>('incoming-blocks');
export const outboundRestrictions = collection<OutboundRestriction, OutboundRestrictionInput>('outbound-restrictions');
/** RESTRICT-05: register restrictions from a CSV file. */
export const uploadRestrictions = (file: File) => upload<UploadResult>('/api/v1/outbound-restrictions/upload', file);
/** VOICE-*: the fields are edited as JSON; the audio goes up as multipart (with progress). */
export const voiceFiles = collection<VoiceFile, VoiceFileInput>('voice-files');
export const ivrs = collection<Ivr, IvrInput>('ivrs');
export const forwardings = collection<Forwarding, ForwardingInput>('forwardings');
export const createVoiceFile = (fields: VoiceFileInput, file: File | null, onProgress?: (f: number) => void) => {
  const form = new FormData();
  for (const [k, v] of Object.entries(fields)) {
    if (v !== undefined && v !== null) form.append(k, String(v));
  }
  if (file) form.append('file', file);
  return sendForm<VoiceFile>('POST', voiceFiles.base, form, onProgress);
};
export const replaceVoiceFile = (id: number | string, file: File, onProgress?: (f: number) => void) => {
  const form = new FormData();
  form.append('file', file);
  return sendForm<VoiceFile>('PUT', `${voiceFiles.base}/${encodeURIComponent(String(id))}/file`, form, onProgress);
};
/** Call history is read-only: only list and get are served. */
export const calls = collection<CallRecord, never>('calls');
/** VM-01…03: voicemail messages; a bulk delete deletes one id at a time through the batch route. */
export const voicemails = {
  ...collection<Voicemail, never>('voicemails'),
  remove: async (id: number | string): Promise<void> => {
    await api.post<{ deleted: number }>('/api/v1/voicemails/delete', { ids: [Number(id)] });
  },
};
export const callChoices = () => api.get<CallFilterChoices>('/api/v1/calls/choices');
/** REC: pause (or resume) the recording of a call in progress. */
export const pauseRecording = (call: number, paused: boolean) =>
  api.put<void>(`/api/v1/calls/${call}/recording/pause`, { paused });

/** STATUS / RT-10: an agent's status per group, and changing it (no `group` = every group). */
export const agentState = {
  get: (agent: number) => api.get<AgentLiveState>(`/api/v1/agents/${agent}/state`),
  set: (agent: number, body: AgentStateInput) => api.put<AgentLiveState>(`/api/v1/agents/${agent}/state`, body),
};
/** RT-01…09: the group table, and with `group` its detail and chart over `hours`. */
export const realtime = (group?: number | null, hours?: number) =>
  api.get<RealtimeResponse>(`/api/v1/realtime${qs({ group: group ?? undefined, hours: group ? hours : undefined })}`);
/** PRES-01…03: the groups one may look at, and a group's agents with their live status. */
export const presence = {
  groups: () => api.get<ListResponse<PresenceGroup>>('/api/v1/presence/groups'),
  agents: (group: number) => api.get<ListResponse<PresenceAgent>>(`/api/v1/presence/groups/${group}`),
  /** PRES-06: ring my own desk phone, then call the colleague. */
  callback: (agent: number) => api.post<unknown>('/api/v1/presence/callback', { agent }),
};
/** RT-11: one member's skill level, from the realtime screen. */
export const setSkillLevel = (group: number, body: SkillLevelInput) =>
  api.put<GroupMember>(`/api/v1/groups/${group}/skill-level`, body);
