import { collection } from './client';
import type {
  Agent,
  AgentInput,
  AgentStatus,
  AgentStatusInput,
  Group,
  GroupInput,
  PhoneNumber,
  PhoneNumberInput,
  Role,
  RoleInput,
  Terminal,
  TerminalInput,
  Trunk,
  TrunkInput,
} from './types';

export const agents = collection<Agent, AgentInput>('agents');
export const roles = collection<Role, RoleInput>('roles');
export const terminals = collection<Terminal, TerminalInput>('terminals');
export const numbers = collection<PhoneNumber, PhoneNumberInput>('numbers');
export const groups = collection<Group, GroupInput>('groups');
export const agentStatuses = collection<AgentStatus, AgentStatusInput>('agent-statuses');
export const trunks = collection<Trunk, TrunkInput>('trunks');
