// Realm data of the dev IdP: reads a Keycloak realm export and turns it into users, groups, roles
// and oidc-provider client metadata. The file is re-read whenever its mtime changes, so editing the
// realm (e.g. removing a user from a group) takes effect at the next login, token refresh or
// userinfo call -- the same moment a real Keycloak would reflect an admin's change.

import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';

// Keycloak resolves `${VAR}` and `${VAR:default}` from the environment when it imports a realm
// (also the `${env.VAR}` spelling of its property replacer). Unknown placeholders stay as written,
// as Keycloak leaves them.
const PLACEHOLDER = /\$\{([A-Za-z_][A-Za-z0-9_.]*)(?::([^}]*))?\}/g;

export function resolvePlaceholders(value, env, missing = new Set()) {
  if (typeof value === 'string') {
    return value.replace(PLACEHOLDER, (whole, name, fallback) => {
      const key = name.startsWith('env.') ? name.slice(4) : name;
      if (env[key] !== undefined) return env[key];
      if (fallback !== undefined) return fallback;
      missing.add(key);
      return whole;
    });
  }
  if (Array.isArray(value)) return value.map((v) => resolvePlaceholders(v, env, missing));
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k, resolvePlaceholders(v, env, missing)]),
    );
  }
  return value;
}

// Keycloak's `sub` is the user's id (a UUID). Exports may omit ids, so derive a stable UUID-shaped
// one from realm and username: the same user keeps the same `sub` across restarts.
function stableId(realm, username) {
  const h = createHash('sha1').update(`${realm}/${username}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

function flattenGroups(groups, parentPath, out) {
  for (const g of groups || []) {
    const path = g.path || `${parentPath}/${g.name}`;
    out.set(path, {
      name: g.name, path, parentPath: parentPath || null, realmRoles: g.realmRoles || [],
    });
    flattenGroups(g.subGroups, path, out);
  }
  return out;
}

function truthy(v) {
  return v === true || v === 'true';
}

// Keycloak redirect URIs: absolute, relative to the client's rootUrl, or ending in `*`.
function resolveUris(uris, rootUrl, warn, what) {
  const out = [];
  for (const raw of uris || []) {
    let uri = raw;
    if (uri.startsWith('/') && rootUrl) uri = rootUrl.replace(/\/$/, '') + uri;
    try {
      // oidc-provider validates client metadata URLs; a trailing `*` is still a valid URL.
      new URL(uri); // eslint-disable-line no-new
      out.push(uri);
    } catch {
      warn(`ignoring ${what} ${JSON.stringify(raw)}: not an absolute URL`);
    }
  }
  return out;
}

function originsOf(client, redirectUris) {
  const origins = new Set();
  for (const o of client.webOrigins || []) {
    if (o === '+') {
      for (const u of redirectUris) origins.add(new URL(u).origin);
    } else {
      origins.add(o);
    }
  }
  return [...origins];
}

function findMapper(rep, type) {
  const scopes = rep.clientScopes || [];
  for (const c of rep.clients || []) {
    for (const m of c.protocolMappers || []) if (m.protocolMapper === type) return m;
  }
  for (const s of scopes) {
    for (const m of s.protocolMappers || []) if (m.protocolMapper === type) return m;
  }
  return undefined;
}

// Catch the mistakes a hand-edited export is prone to, with the field that is wrong.
function validate(rep) {
  if (!rep || typeof rep !== 'object' || Array.isArray(rep)) throw new Error('not a realm export (expected a JSON object)');
  if (typeof rep.realm !== 'string' || !rep.realm) throw new Error('"realm" (the realm name) is missing');
  for (const key of ['users', 'groups', 'clients', 'clientScopes']) {
    if (rep[key] !== undefined && !Array.isArray(rep[key])) throw new Error(`"${key}" must be a list`);
  }
  if (rep.roles?.realm !== undefined && !Array.isArray(rep.roles.realm)) throw new Error('"roles.realm" must be a list');
  (rep.users || []).forEach((u, i) => {
    if (!u || typeof u.username !== 'string') throw new Error(`users[${i}] has no "username"`);
    for (const key of ['groups', 'realmRoles', 'credentials']) {
      if (u[key] !== undefined && !Array.isArray(u[key])) throw new Error(`users[${i}] (${u.username}): "${key}" must be a list`);
    }
  });
}

/** One parsed snapshot of the realm file. */
export class RealmData {
  constructor(rep, {
    realmName, redirectOverrides = {}, postLogoutOverrides = {}, warn = () => {},
  }) {
    validate(rep);
    this.name = realmName || rep.realm;
    this.displayName = rep.displayName || this.name;
    this.accessTokenLifespan = rep.accessTokenLifespan || 300;
    this.ssoSessionIdleTimeout = rep.ssoSessionIdleTimeout || 1800;
    this.ssoSessionMaxLifespan = rep.ssoSessionMaxLifespan || 36000;
    this.loginWithEmailAllowed = rep.loginWithEmailAllowed !== false;

    this.roles = new Map();
    for (const r of rep.roles?.realm || []) this.roles.set(r.name, r);
    this.groups = flattenGroups(rep.groups, '', new Map());

    const mapper = findMapper(rep, 'oidc-group-membership-mapper');
    this.groupsClaim = mapper?.config?.['claim.name'] || 'groups';
    this.groupsFullPath = truthy(mapper?.config?.['full.path'] ?? 'false');

    this.users = new Map();
    this.usersById = new Map();
    for (const u of rep.users || []) {
      const username = u.username.toLowerCase();
      const password = (u.credentials || []).find((c) => c.type === 'password' && c.value !== undefined);
      const user = {
        id: u.id || stableId(rep.realm, username),
        username,
        email: u.email ? u.email.toLowerCase() : undefined,
        emailVerified: !!u.emailVerified,
        firstName: u.firstName,
        lastName: u.lastName,
        enabled: u.enabled !== false,
        password: password ? password.value : undefined,
        groupPaths: (u.groups || []).filter((p) => {
          if (this.groups.has(p)) return true;
          warn(`user ${username}: unknown group ${p}`);
          return false;
        }),
        realmRoles: u.realmRoles || [],
      };
      this.users.set(username, user);
      this.usersById.set(user.id, user);
    }

    this.clients = new Map();
    for (const c of rep.clients || []) {
      if (!c.clientId || c.enabled === false || c.protocol === 'saml') continue;
      if (c.bearerOnly) continue;
      const redirect = redirectOverrides[c.clientId] || c.redirectUris || [];
      const redirectUris = resolveUris(redirect, c.rootUrl, warn, `${c.clientId} redirect URI`);
      const postLogoutAll = (c.attributes?.['post.logout.redirect.uris'] || '').split('##');
      const postLogout = postLogoutOverrides[c.clientId]
        ? [...postLogoutOverrides[c.clientId]]
        : postLogoutAll.filter((u) => u && u !== '+');
      // `+` means "the same as the redirect URIs" in Keycloak.
      if (postLogoutAll.includes('+')) postLogout.push(...redirectUris);
      const grantTypes = [];
      if (c.standardFlowEnabled !== false) grantTypes.push('authorization_code', 'refresh_token');
      if (grantTypes.length === 0) continue; // only the standard flow is served by the dev IdP
      this.clients.set(c.clientId, {
        client_id: c.clientId,
        client_name: c.name || c.clientId,
        ...(c.publicClient
          ? { token_endpoint_auth_method: 'none' }
          : { client_secret: c.secret, token_endpoint_auth_method: 'client_secret_basic' }),
        redirect_uris: redirectUris,
        post_logout_redirect_uris: resolveUris(postLogout, c.rootUrl, warn, `${c.clientId} post-logout URI`),
        grant_types: grantTypes,
        response_types: ['code'],
        web_origins: originsOf(c, redirectUris),
      });
    }
  }

  /** Find an enabled or disabled user by username or (when allowed) e-mail, case-insensitively. */
  lookup(login) {
    const key = String(login || '').trim().toLowerCase();
    if (this.users.has(key)) return this.users.get(key);
    if (this.loginWithEmailAllowed && key.includes('@')) {
      for (const u of this.users.values()) if (u.email === key) return u;
    }
    return undefined;
  }

  /** Group memberships as the group-membership mapper renders them (names or full paths), sorted like Keycloak. */
  groupClaim(user) {
    return user.groupPaths.map((p) => (this.groupsFullPath ? p : this.groups.get(p).name)).sort();
  }

  /** Effective realm roles: direct, inherited from groups and their parents, composites expanded. */
  effectiveRoles(user) {
    const seen = new Set();
    const visit = (name) => {
      if (seen.has(name)) return;
      seen.add(name);
      const role = this.roles.get(name);
      for (const c of role?.composites?.realm || []) visit(c);
    };
    user.realmRoles.forEach(visit);
    for (let path of user.groupPaths) {
      while (path) {
        const g = this.groups.get(path);
        if (!g) break;
        g.realmRoles.forEach(visit);
        path = g.parentPath;
      }
    }
    return [...seen].sort();
  }

  /** The user claims Keycloak's default scopes plus the realm's mappers put in tokens. */
  claims(user) {
    const name = [user.firstName, user.lastName].filter(Boolean).join(' ');
    return {
      sub: user.id,
      preferred_username: user.username,
      ...(user.email ? { email: user.email, email_verified: user.emailVerified } : {}),
      ...(name ? { name } : {}),
      ...(user.firstName ? { given_name: user.firstName } : {}),
      ...(user.lastName ? { family_name: user.lastName } : {}),
      // Keycloak's group-membership mapper leaves the claim out for a user in no group.
      ...(user.groupPaths.length ? { [this.groupsClaim]: this.groupClaim(user) } : {}),
      realm_access: { roles: this.effectiveRoles(user) },
    };
  }
}

/** The realm file, re-parsed whenever its mtime (or size) changes. */
export class RealmFile {
  constructor(path, {
    env = process.env, realmName, redirectOverrides, postLogoutOverrides, log = console.error,
  } = {}) {
    this.path = path;
    this.env = env;
    this.realmName = realmName;
    this.redirectOverrides = redirectOverrides || {};
    this.postLogoutOverrides = postLogoutOverrides || {};
    this.log = log;
    this.stamp = null;
    this.data = null;
    this.current(); // fail fast on a missing or malformed file at start
  }

  current() {
    let st;
    try {
      st = statSync(this.path);
    } catch (err) {
      if (this.data) return this.data; // file briefly absent while an editor replaces it
      throw new Error(`realm file ${this.path}: ${err.message}`);
    }
    const stamp = `${st.mtimeMs}:${st.size}`;
    if (stamp === this.stamp && this.data) return this.data;
    try {
      const rep = JSON.parse(readFileSync(this.path, 'utf8'));
      const missing = new Set();
      const resolved = resolvePlaceholders(rep, this.env, missing);
      for (const name of missing) this.log(`realm file: environment variable ${name} is not set; placeholder left as is`);
      this.data = new RealmData(resolved, {
        realmName: this.realmName,
        redirectOverrides: this.redirectOverrides,
        postLogoutOverrides: this.postLogoutOverrides,
        warn: (msg) => this.log(`realm file: ${msg}`),
      });
      this.stamp = stamp;
      if (this.stampSeen) this.log(`realm file reloaded: ${this.path}`);
      this.stampSeen = true;
    } catch (err) {
      // A half-written file must not take the IdP down: keep serving the last good snapshot.
      if (!this.data) throw new Error(`realm file ${this.path}: ${err.message}`);
      this.log(`realm file ${this.path} unreadable, keeping previous data: ${err.message}`);
    }
    return this.data;
  }
}
