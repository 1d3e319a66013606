// SIPp peers for browser tests: the agent's phone and the carrier, all on loopback.
import { expect } from '@playwright/test';
import { spawn, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import path from 'node:path';

export const SIP = process.env.TSUNAGU_SIP ?? '127.0.0.1:5060';
const SCENARIOS = path.resolve(process.cwd(), '../tests/sipp');

export const children: ChildProcess[] = [];

/** A UDP port nobody uses right now. */
export function freeUdpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = dgram.createSocket('udp4');
    s.once('error', reject);
    s.bind(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = dgram.createSocket('udp4');
    s.once('error', () => resolve(false));
    s.bind(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/** An even port for SIPp's `-mp`: SIPp binds it for audio and the one two above for video. */
export async function freeMediaPort(): Promise<number> {
  for (;;) {
    const port = await freeUdpPort();
    if (port % 2 !== 0 || port > 65532) continue;
    if ((await bindable(port + 1)) && (await bindable(port + 2)) && (await bindable(port + 3))) return port;
  }
}

export function sipp(scenario: string, args: string[]): ChildProcess {
  const child = spawn(
    'sipp',
    [SIP, '-sf', path.join(SCENARIOS, scenario), '-m', '1', '-timeout', '30', '-timeout_error', '-nostdin', ...args],
    { stdio: 'ignore' },
  );
  children.push(child);
  return child;
}

/** Resolves with the exit code (null when killed). */
export function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

/** The phone of an agent: an answering SIPp (after `answerAfterMs`) registered by a second one. */
export async function phone(user: string, answerAfterMs: number): Promise<ChildProcess> {
  const port = await freeUdpPort();
  const media = await freeMediaPort();
  const uas = sipp('answer.xml', ['-p', String(port), '-mp', String(media), '-rtp_echo', '-d', String(answerAfterMs)]);
  await new Promise((r) => setTimeout(r, 300));
  const reg = sipp('register.xml', [
    '-p',
    String(await freeUdpPort()),
    '-au',
    user,
    '-ap',
    `demo${user}`,
    '-key',
    'user',
    user,
    '-key',
    'contact_port',
    String(port),
  ]);
  expect(await exited(reg), `registration of ${user}`).toBe(0);
  return uas;
}

/** A carrier call to the demo number: talks (or, cancelling, rings) for `ms`. */
export async function carrier(scenario: string, caller: string, ms: number): Promise<ChildProcess> {
  return sipp(scenario, [
    '-s',
    '0312345678',
    '-key',
    'caller',
    caller,
    '-d',
    String(ms),
    '-p',
    String(await freeUdpPort()),
    '-mp',
    String(await freeMediaPort()),
  ]);
}


/** Removes every registration of the agent's phone (the agent goes offline). */
export async function unregister(user: string): Promise<void> {
  const reg = sipp('unregister.xml', ['-p', String(await freeUdpPort()), '-au', user, '-ap', `demo${user}`, '-key', 'user', user]);
  expect(await exited(reg), `unregistration of ${user}`).toBe(0);
}
