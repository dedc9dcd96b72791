// Storage adapter for oidc-provider. Sessions, grants and tokens live in this process and, when the
// server has a state dir, in `devidp-sessions.json` there (mode 0600, rewritten after each change):
// a restarted or crashed dev IdP keeps its users' single sign-on sessions and refresh tokens, as
// Keycloak keeps them in its database. Clients are not stored: they are looked up in the current
// realm data, so a client edited in the realm file is picked up without a restart.

import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';

const entries = new Map(); // `${model}:${id}` -> { payload, expiresAt }
const index = new Map(); // secondary keys (session uid, grant id, user code) -> primary key(s)

const GRANTABLE = new Set([
  'AccessToken', 'AuthorizationCode', 'RefreshToken', 'DeviceCode', 'BackchannelAuthenticationRequest',
]);

let persistFile; // set by persistTo()
let saveFailed = false;

function now() {
  return Date.now();
}

function live(key) {
  const e = entries.get(key);
  if (!e) return undefined;
  if (e.expiresAt && e.expiresAt <= now()) {
    entries.delete(key);
    return undefined;
  }
  return e.payload;
}

/** Remove expired entries; called periodically so a long-running dev IdP does not grow. */
export function sweep() {
  const t = now();
  for (const [key, e] of entries) if (e.expiresAt && e.expiresAt <= t) entries.delete(key);
  for (const [key, v] of index) {
    if (Array.isArray(v)) {
      const kept = v.filter((k) => entries.has(k));
      if (kept.length) index.set(key, kept); else index.delete(key);
    } else if (!entries.has(v)) {
      index.delete(key);
    }
  }
}

/** Write every live entry to the state file (atomically: a crash leaves the old or the new one). */
function save() {
  if (!persistFile) return;
  const t = now();
  const live = [...entries].filter(([, e]) => !e.expiresAt || e.expiresAt > t);
  const tmp = `${persistFile}.tmp`;
  try {
    writeFileSync(tmp, JSON.stringify({ entries: live, index: [...index] }), { mode: 0o600 });
    renameSync(tmp, persistFile);
    saveFailed = false;
  } catch (err) {
    // A full or read-only state disk: keep serving from memory (logins go on), say so once.
    if (!saveFailed) process.stdout.write(`cannot save sessions to ${persistFile} (${err.code || err}): kept in memory\n`);
    saveFailed = true;
  }
}

/** Keep the store in `file`: load what an earlier process stored there, save after each change. */
export function persistTo(file) {
  persistFile = file;
  if (!existsSync(file)) return 0;
  let data;
  try {
    data = JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    return 0; // unreadable (never written fully thanks to the rename): start empty
  }
  for (const [key, e] of data.entries || []) entries.set(key, e);
  for (const [key, v] of data.index || []) index.set(key, v);
  sweep();
  return entries.size;
}

/** Build the adapter class bound to a function returning the current realm data. */
export function makeAdapter(currentRealm) {
  return class DevAdapter {
    constructor(model) {
      this.model = model;
    }

    key(id) {
      return `${this.model}:${id}`;
    }

    async upsert(id, payload, expiresIn) {
      const key = this.key(id);
      entries.set(key, { payload, expiresAt: expiresIn ? now() + expiresIn * 1000 : undefined });
      if (this.model === 'Session' && payload.uid) index.set(`sessionUid:${payload.uid}`, key);
      if (payload.userCode) index.set(`userCode:${payload.userCode}`, key);
      if (GRANTABLE.has(this.model) && payload.grantId) {
        const gk = `grant:${payload.grantId}`;
        index.set(gk, [...(index.get(gk) || []), key]);
      }
      save();
    }

    async find(id) {
      if (this.model === 'Client') {
        const meta = currentRealm().clients.get(id);
        return meta ? structuredClone(meta) : undefined;
      }
      return live(this.key(id));
    }

    async findByUid(uid) {
      const key = index.get(`sessionUid:${uid}`);
      return key ? live(key) : undefined;
    }

    async findByUserCode(userCode) {
      const key = index.get(`userCode:${userCode}`);
      return key ? live(key) : undefined;
    }

    async consume(id) {
      const payload = live(this.key(id));
      if (payload) payload.consumed = Math.floor(now() / 1000);
      save();
    }

    async destroy(id) {
      entries.delete(this.key(id));
      save();
    }

    async revokeByGrantId(grantId) {
      const gk = `grant:${grantId}`;
      for (const key of index.get(gk) || []) entries.delete(key);
      index.delete(gk);
      save();
    }
  };
}
