// The browser phone (PHONE-01…06) in the right application panel (UI-10). The Shell renders
// this once per session and never unmounts it — switching to presence or chat, collapsing the
// panel or navigating only hides it — so a call in progress survives all of those.
//
// Signalling goes over the session's WebSocket (phone_* messages); the media is WebRTC to the
// server's gateway (ICE-lite, DTLS-SRTP, G.711), which bridges it to the SIP call.

import { useCallback, useEffect, useRef, useState, type KeyboardEvent } from 'react';
import { useTranslation } from 'react-i18next';
import { setDialer } from '../phoneControl';
import { api } from '../api/client';
import type { LiveMessage, PhoneInfo, WsCommand } from '../api/types';
import { useAuth } from '../auth';
import { useLiveConnected, useLiveMessages, useLiveSend } from '../live';

type CallState = 'incoming' | 'dialing' | 'ringing' | 'connected';

interface Call {
  id: string;
  state: CallState;
  remote: string;
  connectedAt: number | null;
  held: boolean;
}

const KEYS = ['1', '2', '3', '4', '5', '6', '7', '8', '9', '*', '0', '#'];

function clock(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  const mm = String(Math.floor(s / 60)).padStart(2, '0');
  const ss = String(s % 60).padStart(2, '0');
  return `${mm}:${ss}`;
}

/** The browser's offer for one call, with the microphone; waits briefly for host candidates. */
async function makeOffer(pc: RTCPeerConnection): Promise<string> {
  const offer = await pc.createOffer();
  await pc.setLocalDescription(offer);
  if (pc.iceGatheringState !== 'complete') {
    await new Promise<void>((resolve) => {
      const done = () => {
        if (pc.iceGatheringState === 'complete') resolve();
      };
      pc.addEventListener('icegatheringstatechange', done);
      setTimeout(resolve, 800);
    });
  }
  return pc.localDescription?.sdp ?? offer.sdp ?? '';
}

/** A ring tone made in the page (no audio file to load): 0.4 s on, 0.2 s off, 0.4 s on, 2 s off. */
function startRinging(): () => void {
  let ctx: AudioContext | null = null;
  try {
    ctx = new AudioContext();
  } catch {
    return () => {};
  }
  const c = ctx;
  const ring = () => {
    const t0 = c.currentTime;
    for (const start of [0, 0.6]) {
      const osc = c.createOscillator();
      const gain = c.createGain();
      osc.frequency.value = 400;
      gain.gain.value = 0.08;
      osc.connect(gain).connect(c.destination);
      osc.start(t0 + start);
      osc.stop(t0 + start + 0.4);
    }
  };
  ring();
  const timer = setInterval(ring, 3000);
  return () => {
    clearInterval(timer);
    void c.close();
  };
}

export function PhonePanel() {
  const { t } = useTranslation();
  const { can } = useAuth();
  const send = useLiveSend();
  const connected = useLiveConnected();
  const allowed = can('phone.browser_phone');
  const [on, setOn] = useState(false);
  const [wantOn, setWantOn] = useState(false);
  const [info, setInfo] = useState<PhoneInfo | null>(null);
  const [number, setNumber] = useState('');
  const [callerId, setCallerId] = useState<string>('');
  const [call, setCall] = useState<Call | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [muted, setMuted] = useState(false);
  const [now, setNow] = useState(Date.now());
  const [audio, setAudio] = useState<{ rx: number; tx: number } | null>(null);
  const pc = useRef<RTCPeerConnection | null>(null);
  const mic = useRef<MediaStream | null>(null);
  const remoteAudio = useRef<HTMLAudioElement | null>(null);
  const stopRing = useRef<(() => void) | null>(null);
  const callRef = useRef<Call | null>(null);
  callRef.current = call;
  /** Bumped by every answer, dial and hang-up: an answer or dial still awaiting the microphone
   * or ICE gives up when the user has moved on meanwhile. */
  const attempt = useRef(0);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    if (!allowed) return;
    api
      .get<PhoneInfo>('/api/v1/phone')
      .then((i) => {
        setInfo(i);
        setCallerId(i.caller_number_id === null || i.caller_number_id === undefined ? 'none' : String(i.caller_number_id));
      })
      .catch(() => setInfo(null));
  }, [allowed]);

  const releaseMedia = useCallback(() => {
    pc.current?.close();
    pc.current = null;
    mic.current?.getTracks().forEach((tr) => tr.stop());
    mic.current = null;
    setAudio(null);
    setMuted(false);
  }, []);

  const ringOff = () => {
    stopRing.current?.();
    stopRing.current = null;
  };

  // The phone follows the socket: a reconnected socket has a new, OFF phone on the server.
  useEffect(() => {
    if (connected && wantOn) {
      send({ type: 'phone_on' });
    }
    if (!connected) {
      setOn(false);
      if (callRef.current) {
        ringOff();
        releaseMedia();
        setCall(null);
        setError(t('phone.errors.reconnect'));
      }
    }
  }, [connected, wantOn, send, releaseMedia, t]);

  useEffect(() => () => {
    ringOff();
    releaseMedia();
  }, [releaseMedia]);

  // The call timer and the audio counters.
  useEffect(() => {
    if (!call) return;
    const timer = setInterval(async () => {
      setNow(Date.now());
      const p = pc.current;
      if (!p) return;
      let rx = 0;
      let tx = 0;
      (await p.getStats()).forEach((r: RTCStats & { kind?: string; bytesReceived?: number; bytesSent?: number }) => {
        if (r.type === 'inbound-rtp' && r.kind === 'audio') rx += r.bytesReceived ?? 0;
        if (r.type === 'outbound-rtp' && r.kind === 'audio') tx += r.bytesSent ?? 0;
      });
      setAudio({ rx, tx });
    }, 1000);
    return () => clearInterval(timer);
  }, [call]);

  /** A peer connection with the microphone, or null (the error is shown). */
  const startMedia = async (): Promise<RTCPeerConnection | null> => {
    releaseMedia();
    let stream: MediaStream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: false });
    } catch (e) {
      const name = e instanceof DOMException ? e.name : '';
      setError(
        name === 'NotAllowedError' || name === 'SecurityError'
          ? t('phone.errors.mic_denied')
          : name === 'NotFoundError'
            ? t('phone.errors.mic_missing')
            : t('phone.errors.mic_other', { message: String(e) }),
      );
      return null;
    }
    mic.current = stream;
    const p = new RTCPeerConnection({ iceServers: [] });
    for (const track of stream.getAudioTracks()) p.addTrack(track, stream);
    p.ontrack = (ev) => {
      if (remoteAudio.current) {
        remoteAudio.current.srcObject = ev.streams[0] ?? new MediaStream([ev.track]);
        void remoteAudio.current.play().catch(() => {});
      }
    };
    p.onconnectionstatechange = () => {
      if (p.connectionState === 'failed') setError(t('phone.errors.network'));
    };
    pc.current = p;
    return p;
  };

  const handle = useCallback(
    (m: LiveMessage) => {
      if (!m.type.startsWith('phone_')) return;
      switch (m.type) {
        case 'phone_state':
          setOn(m.on);
          if (m.reason === 'taken_over') {
            setWantOn(false);
            setError(t('phone.errors.taken_over'));
          }
          if (!m.on) {
            ringOff();
            releaseMedia();
            setCall(null);
          }
          break;
        case 'phone_incoming':
          setNotice(null);
          setError(null);
          setCall({ id: m.call, state: 'incoming', remote: m.caller, connectedAt: null, held: false });
          ringOff();
          stopRing.current = startRinging();
          break;
        case 'phone_answer_sdp':
          void pc.current?.setRemoteDescription({ type: 'answer', sdp: m.sdp }).catch(() => setError(t('phone.errors.network')));
          break;
        case 'phone_dialing': {
          // The ref learns the call's id at once, not at the next render: a refusal
          // (phone_ended, e.g. 403 for 外線発信禁止) can arrive before React renders this, and
          // must find its call.
          const c = callRef.current;
          const next: Call = c
            ? { ...c, id: m.call }
            : { id: m.call, state: 'dialing', remote: m.number, connectedAt: null, held: false };
          callRef.current = next;
          setCall(next);
          break;
        }
        case 'phone_ringing':
          setCall((c) => (c && c.id === m.call ? { ...c, state: 'ringing' } : c));
          break;
        case 'phone_connected':
          ringOff();
          setCall((c) => (c && c.id === m.call ? { ...c, state: 'connected', connectedAt: Date.now() } : c));
          break;
        case 'phone_hold':
          setCall((c) => (c && c.id === m.call ? { ...c, held: m.hold } : c));
          break;
        case 'phone_ended':
          if (callRef.current && callRef.current.id !== m.call) break;
          ringOff();
          releaseMedia();
          callRef.current = null;
          setCall(null);
          setNotice(
            t(`phone.reason.${m.reason}`, {
              status: m.status ?? '',
              message: m.message ?? '',
              defaultValue: t('phone.ended'),
            }),
          );
          break;
        case 'phone_error':
          setError(m.message);
          if (callRef.current && callRef.current.state !== 'incoming' && !pc.current?.remoteDescription) {
            releaseMedia();
            setCall(null);
          }
          break;
        default:
          break;
      }
    },
    [releaseMedia, t],
  );
  useLiveMessages(handle);

  if (!allowed) {
    return (
      <div className="phone-panel" data-testid="phone-app">
        <h3 className="panel-title">{t('phone.title')}</h3>
        <p className="muted">{t('phone.no_permission')}</p>
      </div>
    );
  }

  const toggle = () => {
    setError(null);
    setNotice(null);
    if (on || wantOn) {
      setWantOn(false);
      send({ type: 'phone_off' });
    } else {
      // The effect above sends phone_on, now and after every reconnection.
      setWantOn(true);
      if (!connected) setError(t('phone.errors.offline'));
    }
  };

  const answer = async () => {
    const c = callRef.current;
    if (!c || busy) return;
    const mine = ++attempt.current;
    setBusy(true);
    ringOff();
    try {
      const p = await startMedia();
      if (attempt.current !== mine) return releaseMedia();
      if (!p) {
        send({ type: 'phone_reject', call: c.id });
        return;
      }
      const sdp = await makeOffer(p);
      if (attempt.current !== mine) return releaseMedia();
      send({ type: 'phone_answer', call: c.id, sdp });
    } finally {
      setBusy(false);
    }
  };

  const dial = async (target?: string) => {
    const n = (target ?? number).trim();
    if (!n || callRef.current) return;
    if (target !== undefined) setNumber(n);
    const mine = ++attempt.current;
    setError(null);
    setNotice(null);
    setCall({ id: '', state: 'dialing', remote: n, connectedAt: null, held: false });
    const p = await startMedia();
    if (attempt.current !== mine) return releaseMedia();
    if (!p) {
      setCall(null);
      return;
    }
    const sdp = await makeOffer(p);
    // Hung up while the microphone or the network was being set up: nothing is dialled.
    if (attempt.current !== mine) return releaseMedia();
    const msg: WsCommand = { type: 'phone_dial', number: n, sdp };
    if (info?.can_change_caller_id) msg.caller_number = callerId === 'none' ? null : Number(callerId);
    send(msg);
  };

  const hangup = () => {
    const c = callRef.current;
    if (!c) return;
    attempt.current++;
    ringOff();
    if (c.id) send({ type: c.state === 'incoming' ? 'phone_reject' : 'phone_hangup', call: c.id });
    releaseMedia();
    setCall(null);
  };

  const press = (key: string) => {
    const c = callRef.current;
    if (c?.state === 'connected') {
      // RFC 4733 through the gateway to the other side.
      const sender = pc.current?.getSenders().find((s) => s.track?.kind === 'audio');
      sender?.dtmf?.insertDTMF(key, 120, 60);
    } else {
      setNumber((v) => v + key);
    }
  };

  const toggleMute = () => {
    const next = !muted;
    mic.current?.getAudioTracks().forEach((tr) => (tr.enabled = !next));
    setMuted(next);
  };

  const toggleHold = () => {
    const c = callRef.current;
    if (c?.state === 'connected') send({ type: 'phone_hold', call: c.id, hold: !c.held });
  };

  const onNumberKey = (e: KeyboardEvent<HTMLInputElement>) => {
    if (e.key === 'Enter') {
      e.preventDefault();
      void dial();
    }
  };

  const live = on && connected;
  // Others may dial on this phone while it is ON and idle (the presence panel's Call).
  const idle = live && !call;
  const dialRef = useRef(dial);
  dialRef.current = dial;
  useEffect(() => {
    setDialer(idle ? (n) => void dialRef.current(n) : null);
    return () => setDialer(null);
  }, [idle]);
  const stateLabel = !live
    ? t('phone.off_state')
    : call
      ? call.held
        ? t('phone.held')
        : t(`phone.${call.state}`)
      : t('phone.idle');

  return (
    <div className="phone-panel" data-testid="phone-app">
      <div className="phone-head">
        <h3 className="panel-title">{t('phone.title')}</h3>
        <button
          type="button"
          role="switch"
          aria-checked={live}
          aria-label={t('phone.power')}
          className={`phone-power ${live ? 'on' : ''}`}
          data-testid="phone-power"
          onClick={toggle}
        >
          {live ? t('phone.on') : t('phone.off')}
        </button>
      </div>
      <p className="phone-state" data-testid="phone-state" aria-live="polite">
        {stateLabel}
        {call?.remote ? <span className="phone-remote" data-testid="phone-remote"> {call.remote}</span> : null}
        {call?.connectedAt ? (
          <span className="phone-timer" data-testid="phone-timer">
            {' '}
            {clock(now - call.connectedAt)}
          </span>
        ) : null}
      </p>
      {error ? (
        <p className="field-error" role="alert" data-testid="phone-error">
          {error}
        </p>
      ) : null}
      {notice ? (
        <p className="muted" data-testid="phone-notice">
          {notice}
        </p>
      ) : null}
      <label className="phone-field">
        <span>{t('phone.caller_id')}</span>
        <select
          value={callerId}
          onChange={(e) => setCallerId(e.target.value)}
          disabled={!info?.can_change_caller_id || !!call}
          data-testid="phone-caller-id"
        >
          <option value="none">{t('phone.prohibited')}</option>
          {info?.numbers.map((n) => (
            <option key={n.id} value={String(n.id)}>
              {n.label}
            </option>
          ))}
        </select>
      </label>
      <label className="phone-field">
        <span>{t('phone.number')}</span>
        <input
          type="tel"
          inputMode="tel"
          value={number}
          onChange={(e) => setNumber(e.target.value)}
          onKeyDown={onNumberKey}
          disabled={!live || !!call}
          data-testid="phone-number"
        />
      </label>
      <div className="dial-pad" role="group" aria-label={t('phone.pad')}>
        {KEYS.map((k) => (
          <button key={k} type="button" onClick={() => press(k)} disabled={!live} data-testid={`phone-key-${k}`}>
            {k}
          </button>
        ))}
      </div>
      <div className="phone-actions">
        {call?.state === 'incoming' ? (
          <>
            <button
              type="button"
              className="btn-primary"
              onClick={() => void answer()}
              disabled={busy}
              data-testid="phone-answer"
            >
              {t('phone.answer')}
            </button>
            <button type="button" onClick={hangup} data-testid="phone-reject">
              {t('phone.reject')}
            </button>
          </>
        ) : call ? (
          <>
            <button type="button" className="btn-danger" onClick={hangup} data-testid="phone-hangup">
              {t('phone.hangup')}
            </button>
            <button
              type="button"
              onClick={toggleHold}
              disabled={call.state !== 'connected'}
              aria-pressed={call.held}
              data-testid="phone-hold"
            >
              {call.held ? t('phone.unhold') : t('phone.hold')}
            </button>
            <button type="button" onClick={toggleMute} aria-pressed={muted} data-testid="phone-mute">
              {muted ? t('phone.unmute') : t('phone.mute')}
            </button>
          </>
        ) : (
          <button
            type="button"
            className="btn-primary"
            onClick={() => void dial()}
            disabled={!live || !number.trim()}
            data-testid="phone-dial"
          >
            {t('phone.dial')}
          </button>
        )}
      </div>
      {audio ? (
        <p className="muted phone-audio" data-testid="phone-audio" data-rx={audio.rx} data-tx={audio.tx}>
          {t('phone.audio', { rx: (audio.rx / 1024).toFixed(1), tx: (audio.tx / 1024).toFixed(1) })}
        </p>
      ) : null}
      <audio ref={remoteAudio} autoPlay />
    </div>
  );
}
