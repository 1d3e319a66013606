// What the browser phone offers the rest of the page: dialling a number from elsewhere, such as
// the presence panel's Call (PRES-05). Only while the phone is ON, connected and idle.

import { useSyncExternalStore } from 'react';

type Dialer = (number: string) => void;

let dialer: Dialer | null = null;
const listeners = new Set<() => void>();

/** Called by the phone panel whenever it can (a dialer) or cannot (null) place a call. */
export function setDialer(d: Dialer | null) {
  dialer = d;
  listeners.forEach((l) => l());
}

/** Dials `number` on the browser phone; false when the phone cannot dial now. */
export function dialOnPhone(number: string): boolean {
  if (!dialer) return false;
  dialer(number);
  return true;
}

/** Whether the browser phone can dial now. */
export function usePhoneCanDial(): boolean {
  return useSyncExternalStore(
    (l) => {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    () => dialer !== null,
  );
}
