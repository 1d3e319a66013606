// The live side shared by the header and the realtime screen: one WebSocket per session
// (GET /api/v1/ws, reconnecting with backoff) and a directory of the names the user may read.

import { createContext, useCallback, useContext, useEffect, useMemo, useRef, useState, type ReactNode } from 'react';
import { callChoices, presence } from './api/resources';
import { api } from './api/client';
import type { AgentStatus, ListResponse, LiveMessage, WsCommand } from './api/types';
import { useAuth } from './auth';

export interface GroupInfo {
  id: number;
  name: string;
  extension: string | null;
  color_bg: string | null;
  color_fg: string | null;
}
export interface StatusInfo {
  id: number;
  name: string;
  color_bg: string;
  color_fg: string;
}
export interface Directory {
  groups: Map<number, GroupInfo>;
  agents: Map<number, string>;
  /** Custom agent statuses (AST); null when the user may not read them (agent_status.view). */
  statuses: StatusInfo[] | null;
}

/** A message of the socket, or `resync` after every (re)connection: refetch what you show. */
type Listener = (m: LiveMessage) => void;

interface LiveState {
  subscribe: (fn: Listener) => () => void;
  /** Sends a message to the server (the browser phone's signalling); false while disconnected. */
  send: (m: WsCommand) => boolean;
  connected: boolean;
  directory: Directory;
}

const EMPTY: Directory = { groups: new Map(), agents: new Map(), statuses: null };
const LiveContext = createContext<LiveState | null>(null);

function socketUrl(): string {
  const proto = window.location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${proto}//${window.location.host}/api/v1/ws`;
}

export function LiveProvider({ children }: { children: ReactNode }) {
  const { me, can } = useAuth();
  const listeners = useRef(new Set<Listener>());
  const socket = useRef<WebSocket | null>(null);
  const [connected, setConnected] = useState(false);
  const [directory, setDirectory] = useState<Directory>(EMPTY);
  const userId = me?.user.id;

  // The socket: reconnect with exponential backoff (0.5 s … 15 s) while logged in.
  useEffect(() => {
    if (userId === undefined) return;
    let ws: WebSocket | null = null;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let delay = 500;
    let stopped = false;
    const emit = (m: LiveMessage) => listeners.current.forEach((fn) => fn(m));
    const open = () => {
      if (stopped) return;
      ws = new WebSocket(socketUrl());
      socket.current = ws;
      ws.onopen = () => {
        delay = 500;
        setConnected(true);
        // Something may have changed while we were away.
        emit({ type: 'resync' });
      };
      ws.onmessage = (ev) => {
        try {
          const m = JSON.parse(String(ev.data)) as LiveMessage;
          if (m && typeof m.type === 'string') emit(m);
        } catch {
          /* not ours */
        }
      };
      ws.onclose = () => {
        setConnected(false);
        ws = null;
        socket.current = null;
        if (stopped) return;
        timer = setTimeout(open, delay);
        delay = Math.min(delay * 2, 15_000);
      };
    };
    open();
    return () => {
      stopped = true;
      if (timer) clearTimeout(timer);
      ws?.close();
    };
  }, [userId]);

  // Names: call-history choices (agents and SV have history.view), the groups with extension
  // and colours (one's own, or all for supervisors: GET /presence/groups, open to everyone), the
  // agent statuses for everyone; anything refused is simply left out.
  const mayChoices = can('history.view');

  useEffect(() => {
    if (userId === undefined) return;
    let live = true;
    void (async () => {
      const groups = new Map<number, GroupInfo>();
      const agents = new Map<number, string>();
      let statuses: StatusInfo[] | null = null;
      const [choices, full, ast] = await Promise.all([
        mayChoices ? callChoices().catch(() => null) : null,
        presence
          .groups()
          .then((r) => r.items)
          .catch(() => null),
        // Every logged-in user may read the status names (the menus need them).
        api
          .get<ListResponse<AgentStatus>>('/api/v1/agent-status-choices')
          .then((r) => r.items)
          .catch(() => null),
      ]);
      for (const g of choices?.groups ?? [])
        groups.set(g.id, { id: g.id, name: g.name, extension: null, color_bg: null, color_fg: null });
      for (const a of choices?.agents ?? []) agents.set(a.id, a.name);
      for (const g of full ?? [])
        groups.set(g.id, {
          id: g.id,
          name: g.name,
          extension: g.extension ?? null,
          color_bg: g.color_bg || null,
          color_fg: g.color_fg || null,
        });
      if (ast) statuses = ast.map((s) => ({ id: s.id, name: s.name, color_bg: s.color_bg, color_fg: s.color_fg }));
      if (live) setDirectory({ groups, agents, statuses });
    })();
    return () => {
      live = false;
    };
  }, [userId, mayChoices]);

  const subscribe = useCallback((fn: Listener) => {
    listeners.current.add(fn);
    return () => {
      listeners.current.delete(fn);
    };
  }, []);
  const send = useCallback((m: WsCommand) => {
    const ws = socket.current;
    if (!ws || ws.readyState !== WebSocket.OPEN) return false;
    ws.send(JSON.stringify(m));
    return true;
  }, []);
  const value = useMemo<LiveState>(
    () => ({ subscribe, send, connected, directory }),
    [subscribe, send, connected, directory],
  );
  return <LiveContext.Provider value={value}>{children}</LiveContext.Provider>;
}

function useLive(): LiveState {
  const v = useContext(LiveContext);
  if (!v) throw new Error('useLive outside LiveProvider');
  return v;
}

/** Calls `fn` for every socket message (and `resync` after each connection). */
export function useLiveMessages(fn: Listener) {
  const { subscribe } = useLive();
  const ref = useRef(fn);
  useEffect(() => {
    ref.current = fn;
  });
  useEffect(() => subscribe((m) => ref.current(m)), [subscribe]);
}

export function useDirectory(): Directory {
  return useLive().directory;
}

export function useLiveConnected(): boolean {
  return useLive().connected;
}

/** Sends a message over the session's socket; false while it is down. */
export function useLiveSend(): (m: WsCommand) => boolean {
  return useLive().send;
}
