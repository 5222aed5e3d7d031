// The live socket (/api/v1/live): one WebSocket for the whole app. It authenticates with the
// first message, hands each message to the handlers of its type, and reconnects with backoff
// when the connection drops. Messages sent while it was down are lost, so after a reconnect it
// emits 'resync': views then re-read over HTTP what they show. 'connection' ({connected}) drives
// the status badge.

const BACKOFF_S = [0.5, 1, 2, 4, 8, 10];
const PING_EVERY_MS = 15_000;
// No message at all (not even a pong) for this long: the connection is dead, reconnect.
const SILENCE_LIMIT_MS = 40_000;
// Close codes of a refused login (policy violation, or an app's own 4401).
const AUTH_CLOSE_CODES = new Set([1008, 4401, 4403]);

export function createLive(api) {
  const handlers = new Map(); // type → Set of handlers
  let socket = null;
  let running = false;
  let connected = false;
  let everConnected = false;
  let attempt = 0;
  let retryTimer = null;
  let pingTimer = null;
  let lastHeard = 0;
  let offToken = null;

  function emit(type, message) {
    for (const fn of handlers.get(type) || []) {
      try {
        fn(message);
      } catch (err) {
        console.error(`live ${type} handler failed`, err);
      }
    }
  }

  function setConnected(value) {
    if (connected === value) return;
    connected = value;
    emit('connection', { connected: value });
  }

  function scheduleReconnect() {
    if (!running || retryTimer) return;
    const base = BACKOFF_S[Math.min(attempt, BACKOFF_S.length - 1)];
    attempt += 1;
    const jitter = base * (0.8 + Math.random() * 0.4); // ±20 %: tabs do not reconnect in step
    retryTimer = setTimeout(() => {
      retryTimer = null;
      connect();
    }, jitter * 1000);
  }

  function send(message) {
    if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(message));
  }

  async function connect() {
    if (!running) return;
    let token;
    try {
      token = await api.token();
    } catch (err) {
      // A refused refresh has already sent the app to the login; otherwise try again later.
      if (err.status !== 401) scheduleReconnect();
      return;
    }
    if (!running) return;
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    const ws = new WebSocket(`${scheme}://${location.host}/api/v1/live`);
    let authenticated = false; // a later 'ready' only confirms a renewed token
    socket = ws;
    ws.onopen = () => {
      lastHeard = performance.now();
      ws.send(JSON.stringify({ type: 'auth', token }));
    };
    ws.onmessage = (event) => {
      lastHeard = performance.now();
      let message;
      try {
        message = JSON.parse(event.data);
      } catch {
        return;
      }
      if (message.type === 'ready') {
        if (authenticated) return;
        authenticated = true;
        attempt = 0;
        setConnected(true);
        if (everConnected) emit('resync', {});
        everConnected = true;
      } else if (message.type === 'error') {
        console.warn('live socket:', message.message);
      } else if (message.type !== 'pong') {
        emit(message.type, message);
      }
    };
    ws.onclose = (event) => {
      if (socket !== ws) return;
      socket = null;
      setConnected(false);
      if (!running) return;
      if (AUTH_CLOSE_CODES.has(event.code)) {
        // The token was refused (expired, or the login ended): renew it, then reconnect. A
        // refused renewal sends the app to the login, which stops this socket.
        api.refresh().then(scheduleReconnect, (err) => {
          if (err.status !== 401) scheduleReconnect();
        });
      } else {
        scheduleReconnect();
      }
    };
    ws.onerror = () => {
      // onclose follows and reconnects
    };
  }

  function watchdog() {
    if (!socket || socket.readyState !== WebSocket.OPEN) return;
    if (performance.now() - lastHeard > SILENCE_LIMIT_MS) {
      const dead = socket;
      socket = null;
      dead.close();
      setConnected(false);
      scheduleReconnect();
      return;
    }
    send({ type: 'ping' });
  }

  function reconnectNow() {
    if (!running || connected || socket) return; // up, or on its way up
    clearTimeout(retryTimer);
    retryTimer = null;
    attempt = 0;
    connect();
  }

  return {
    /** ``fn(message)`` for every message of ``type``; returns the function that stops it. */
    on(type, fn) {
      if (!handlers.has(type)) handlers.set(type, new Set());
      handlers.get(type).add(fn);
      return () => handlers.get(type).delete(fn);
    },
    get connected() {
      return connected;
    },
    start() {
      if (running) return;
      running = true;
      // A renewed access token replaces the socket's, so the socket outlives each token.
      offToken = api.onToken((token) => send({ type: 'auth', token }));
      pingTimer = setInterval(watchdog, PING_EVERY_MS);
      window.addEventListener('online', reconnectNow);
      connect();
    },
    stop() {
      running = false;
      everConnected = false;
      attempt = 0;
      clearTimeout(retryTimer);
      retryTimer = null;
      clearInterval(pingTimer);
      window.removeEventListener('online', reconnectNow);
      if (offToken) offToken();
      const ws = socket;
      socket = null;
      if (ws) ws.close(1000);
      setConnected(false);
    },
  };
}
