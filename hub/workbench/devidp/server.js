#!/usr/bin/env node
// Dev identity provider of the S2P Workbench: a Keycloak-shaped OpenID Connect provider built on
// the certified `oidc-provider` package. It serves one realm of a Keycloak realm export under
// Keycloak's URL layout (/realms/<realm>/...) with Keycloak's claims, so the hub talks to it
// exactly as it talks to a production Keycloak. Development only: in-memory sessions, plain HTTP,
// loopback addresses only.
//
//   node server.js REALM_FILE [--port N] [--host 127.0.0.1] [--realm NAME]
//        [--redirect-uris JSON] [--state-dir DIR] [--node-modules DIR]

import {
  createHash, createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, timingSafeEqual, verify,
} from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

import { RealmFile } from './realm.js';
import { makeAdapter, sweep } from './store.js';
import {
  errorPage, loggedOutPage, loginPage, logoutPage,
} from './pages.js';

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1']);
// Keycloak's default client scopes; requesting any of them must not fail.
const KEYCLOAK_SCOPES = [
  'openid', 'offline_access', 'profile', 'email', 'roles', 'web-origins', 'acr', 'basic',
  'address', 'phone', 'microprofile-jwt', 'organization',
];
// Access tokens are JWTs like Keycloak's. oidc-provider only issues JWT access tokens for a
// resource server, so every token is issued for this one implicit resource.
const RESOURCE = 'urn:s2p-workbench:devidp:access-token';

function log(msg) {
  process.stdout.write(`${new Date().toISOString()} devidp ${msg}\n`);
}

function fail(msg) {
  process.stderr.write(`devidp: ${msg}\n`);
  process.exit(2);
}

function parseCommandLine() {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      port: { type: 'string', default: '0' },
      host: { type: 'string', default: '127.0.0.1' },
      realm: { type: 'string' },
      'redirect-uris': { type: 'string' },
      'state-dir': { type: 'string' },
      'node-modules': { type: 'string' },
    },
  });
  if (positionals.length !== 1) fail('usage: server.js REALM_FILE [--port N] [--realm NAME] ...');
  if (!LOOPBACK.has(values.host)) fail(`refusing to bind ${values.host}: the dev IdP binds loopback addresses only`);
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) fail(`invalid --port ${values.port}`);
  let redirectOverrides = {};
  if (values['redirect-uris']) {
    try {
      redirectOverrides = JSON.parse(values['redirect-uris']);
    } catch (err) {
      fail(`--redirect-uris must be JSON {"clientId": ["uri", ...]}: ${err.message}`);
    }
  }
  return {
    realmFile: resolve(positionals[0]),
    port,
    host: values.host,
    realmName: values.realm,
    redirectOverrides,
    stateDir: values['state-dir'],
    nodeModules: values['node-modules'],
  };
}

async function loadOidcProvider(nodeModules) {
  if (!nodeModules) return import('oidc-provider');
  // ESM ignores NODE_PATH: resolve the package entry point explicitly.
  const dir = join(nodeModules, 'oidc-provider');
  const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  return import(pathToFileURL(join(dir, pkg.main || 'lib/index.js')).href);
}

// Signing and cookie keys: fresh at every start, or kept in the state dir (mode 0600) so that
// tokens survive a restart. Never part of the repository.
function loadKeys(stateDir) {
  const file = stateDir ? join(stateDir, 'devidp-keys.json') : undefined;
  if (file && existsSync(file)) return JSON.parse(readFileSync(file, 'utf8'));
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = privateKey.export({ format: 'jwk' });
  const kid = createHash('sha256').update(jwk.n).digest('base64url').slice(0, 22);
  const keys = {
    jwks: [{ ...jwk, kid, use: 'sig', alg: 'RS256' }],
    cookieKeys: [randomBytes(32).toString('base64url')],
  };
  if (file) {
    mkdirSync(stateDir, { recursive: true, mode: 0o700 });
    writeFileSync(file, JSON.stringify(keys), { mode: 0o600 });
  }
  return keys;
}

function readBody(req, limit = 64 * 1024) {
  return new Promise((resolveBody, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (c) => {
      size += c.length;
      if (size > limit) {
        reject(new Error('request body too large'));
        req.destroy();
      } else {
        chunks.push(c);
      }
    });
    req.on('end', () => resolveBody(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function send(res, status, type, body, headers = {}) {
  res.writeHead(status, {
    'Content-Type': type,
    'Cache-Control': 'no-store, must-revalidate, max-age=0',
    ...headers,
  });
  res.end(body);
}

// Constant-time comparison (of digests, so lengths do not leak either).
function sameSecret(expected, given) {
  const digest = (v) => createHash('sha256').update(String(v)).digest();
  return timingSafeEqual(digest(expected), digest(given));
}

function b64json(part) {
  return JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
}

async function main() {
  const args = parseCommandLine();
  const { default: Provider, errors } = await loadOidcProvider(args.nodeModules);

  const realmFile = new RealmFile(args.realmFile, {
    realmName: args.realmName,
    redirectOverrides: args.redirectOverrides,
    log,
  });
  const realm = () => realmFile.current();
  const realmName = realm().name;
  const prefix = `/realms/${encodeURIComponent(realmName)}`;
  const keys = loadKeys(args.stateDir);
  const publicKeys = new Map(keys.jwks.map((k) => [k.kid, createPublicKey(createPrivateKey({ key: k, format: 'jwk' }))]));

  const server = http.createServer();
  await new Promise((ok, ko) => {
    server.once('error', ko);
    server.listen(args.port, args.host, ok);
  });
  const { port } = server.address();
  const hostForUrl = args.host.includes(':') ? `[${args.host}]` : args.host;
  const origin = `http://${hostForUrl}:${port}`;
  const issuer = `${origin}${prefix}`;
  const groupsClaim = realm().groupsClaim;
  const userClaims = ['preferred_username', 'email', 'email_verified', 'name', 'given_name',
    'family_name', groupsClaim, 'realm_access'];

  const provider = new Provider(issuer, {
    adapter: makeAdapter(realm),
    clients: [],
    jwks: { keys: keys.jwks },
    cookies: {
      keys: keys.cookieKeys,
      // Lax, not None: browsers drop SameSite=None cookies that are not Secure (plain HTTP here).
      long: { signed: true, httpOnly: true, sameSite: 'lax' },
      short: { signed: true, httpOnly: true, sameSite: 'lax' },
      names: { session: 'KEYCLOAK_SESSION', interaction: 'AUTH_SESSION_ID', resume: 'AUTH_SESSION_RESUME' },
    },
    // Keycloak's default client scopes are granted whether requested or not: every user claim
    // rides on `openid`, and the other scopes are accepted.
    scopes: KEYCLOAK_SCOPES,
    claims: {
      openid: ['sub', ...userClaims],
      profile: ['preferred_username', 'name', 'given_name', 'family_name'],
      email: ['email', 'email_verified'],
    },
    responseTypes: ['code'],
    conformIdTokenClaims: false, // Keycloak puts the user claims in the ID token of the code flow
    routes: {
      authorization: '/protocol/openid-connect/auth',
      token: '/protocol/openid-connect/token',
      userinfo: '/protocol/openid-connect/userinfo',
      jwks: '/protocol/openid-connect/certs',
      end_session: '/protocol/openid-connect/logout',
      introspection: '/protocol/openid-connect/token/introspect',
      revocation: '/protocol/openid-connect/revoke',
      code_verification: '/protocol/openid-connect/auth/device/verify',
      device_authorization: '/protocol/openid-connect/auth/device',
      backchannel_authentication: '/protocol/openid-connect/ext/ciba/auth',
      pushed_authorization_request: '/protocol/openid-connect/ext/par/request',
      registration: '/clients-registrations/openid-connect',
    },
    features: {
      devInteractions: { enabled: false },
      introspection: { enabled: true },
      revocation: { enabled: true },
      userinfo: { enabled: true },
      rpInitiatedLogout: {
        enabled: true,
        logoutSource: async (ctx, form) => {
          ctx.type = 'html';
          ctx.body = logoutPage({
            realmTitle: realm().displayName, form, confirm: !ctx.oidc.params.id_token_hint,
          });
        },
        postLogoutSuccessSource: async (ctx) => {
          ctx.type = 'html';
          ctx.body = loggedOutPage({ realmTitle: realm().displayName });
        },
      },
      resourceIndicators: {
        enabled: true,
        defaultResource: async () => RESOURCE,
        useGrantedResource: async () => true,
        getResourceServerInfo: async (ctx, indicator, client) => {
          if (indicator !== RESOURCE) throw new errors.InvalidTarget();
          return {
            scope: KEYCLOAK_SCOPES.join(' '),
            audience: client.clientId,
            accessTokenTTL: realm().accessTokenLifespan,
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg: 'RS256' } },
          };
        },
      },
    },
    formats: {
      customizers: {
        jwt: async (ctx, token, jwt) => {
          jwt.header = { typ: 'JWT' };
          // Keycloak's access token carries the OIDC scopes, not the resource's.
          if (jwt.payload.scope === undefined && token.scope) jwt.payload.scope = token.scope;
        },
      },
    },
    extraTokenClaims: async (ctx, token) => {
      if (token.kind !== 'AccessToken' || !token.accountId) return undefined;
      const data = realm();
      const user = data.usersById.get(token.accountId);
      if (!user) return undefined;
      const { sub, ...claims } = data.claims(user); // eslint-disable-line no-unused-vars
      return {
        typ: 'Bearer', azp: token.clientId, ...(token.sid ? { sid: token.sid } : {}), ...claims,
      };
    },
    findAccount: async (ctx, sub) => {
      const user = realm().usersById.get(sub);
      if (!user || !user.enabled) return undefined; // disabled: login, code exchange and refresh fail
      return {
        accountId: sub,
        claims: async () => {
          const data = realm();
          return data.claims(data.usersById.get(sub) || user);
        },
      };
    },
    // Keycloak always issues refresh tokens in the code flow (no offline_access needed).
    issueRefreshToken: async (ctx, client) => client.grantTypeAllowed('refresh_token'),
    // Keycloak requires PKCE only where configured; oauthenticator sends it anyway.
    pkce: { methods: ['S256'], required: (ctx, client) => client.clientAuthMethod === 'none' },
    // First-party clients of the realm get their scopes without a consent screen.
    loadExistingGrant: async (ctx) => {
      const { oidc } = ctx;
      const grantId = oidc.result?.consent?.grantId || oidc.session.grantIdFor(oidc.client.clientId);
      let grant = grantId ? await oidc.provider.Grant.find(grantId) : undefined;
      if (!grant || grant.accountId !== oidc.account.accountId) {
        grant = new oidc.provider.Grant({ clientId: oidc.client.clientId, accountId: oidc.account.accountId });
      }
      grant.addOIDCScope([...oidc.requestParamOIDCScopes].join(' '));
      if (oidc.requestParamClaims.size) grant.addOIDCClaims([...oidc.requestParamClaims]);
      for (const [indicator, rs] of Object.entries(oidc.resourceServers)) {
        const scopes = [...oidc.requestParamScopes].filter((s) => rs.scopes.has(s));
        if (scopes.length) grant.addResourceScope(indicator, scopes.join(' '));
      }
      await grant.save();
      return grant;
    },
    interactions: {
      url: async (ctx, interaction) => `${prefix}/login-actions/authenticate/${interaction.uid}`,
    },
    clientBasedCORS: (ctx, requestOrigin, client) => {
      const allowed = client.webOrigins || client['web_origins'] || [];
      return allowed.includes('*') || allowed.includes(requestOrigin);
    },
    extraClientMetadata: { properties: ['web_origins'] },
    renderError: async (ctx, out) => {
      ctx.type = 'html';
      ctx.body = errorPage({
        realmTitle: realm().displayName,
        message: out.error_description || out.error || 'An error occurred',
      });
    },
    ttl: {
      AccessToken: () => realm().accessTokenLifespan,
      IdToken: () => realm().accessTokenLifespan,
      AuthorizationCode: 60,
      RefreshToken: () => realm().ssoSessionIdleTimeout,
      Session: () => realm().ssoSessionMaxLifespan,
      Grant: () => realm().ssoSessionMaxLifespan,
      Interaction: () => 1800,
    },
  });

  // Keycloak matches redirect URIs exactly or by a trailing `*` wildcard.
  const wildcardMatch = (allowed, value) => allowed.some(
    (a) => a === value || (a.endsWith('*') && value.startsWith(a.slice(0, -1))),
  );
  provider.Client.prototype.redirectUriAllowed = function redirectUriAllowed(value) {
    return wildcardMatch(this.redirectUris || [], value);
  };
  provider.Client.prototype.postLogoutRedirectUriAllowed = function postLogoutAllowed(value) {
    return wildcardMatch(this.postLogoutRedirectUris || [], value);
  };

  provider.on('grant.success', (ctx) => {
    const type = ctx.oidc.params.grant_type;
    if (type !== 'refresh_token' && type !== 'authorization_code') return;
    const user = realm().usersById.get(ctx.oidc.account?.accountId);
    const groups = user ? realm().groupClaim(user).join(',') : '';
    log(`${type === 'refresh_token' ? 'refresh' : 'token'} ok user=${user?.username} client=${ctx.oidc.client?.clientId} groups=[${groups}]`);
  });
  provider.on('grant.error', (ctx, err) => {
    if (ctx.oidc.params?.grant_type === 'refresh_token') {
      log(`refresh failed client=${ctx.oidc.client?.clientId} error=${err.error}: ${err.error_detail || err.error_description}`);
    }
  });
  provider.on('server_error', (ctx, err) => log(`server error: ${err.stack || err}`));

  const callback = provider.callback();
  const realmTitle = () => realm().displayName;

  async function loginActions(req, res, uid) {
    let details;
    try {
      details = await provider.interactionDetails(req, res);
    } catch (err) {
      send(res, 400, 'text/html; charset=utf-8', errorPage({
        realmTitle: realmTitle(),
        message: 'Your login attempt timed out. Login will start from the beginning.',
      }));
      return;
    }
    if (details.uid !== uid) {
      send(res, 400, 'text/html; charset=utf-8', errorPage({ realmTitle: realmTitle(), message: 'Invalid login request.' }));
      return;
    }
    const client = realm().clients.get(details.params.client_id);
    const action = `${prefix}/login-actions/authenticate/${uid}`;
    const clientName = client?.client_name;

    if (details.prompt.name === 'consent') {
      // Normally loadExistingGrant grants everything up front; this covers the remaining cases
      // (e.g. a native client) the same way: first-party clients never see a consent screen.
      const missing = details.prompt.details;
      const grant = (details.grantId && await provider.Grant.find(details.grantId))
        || new provider.Grant({ accountId: details.session.accountId, clientId: details.params.client_id });
      if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
      if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
      for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes || {})) {
        grant.addResourceScope(indicator, scopes.join(' '));
      }
      const grantId = await grant.save();
      await provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
      return;
    }
    if (details.prompt.name !== 'login') {
      send(res, 400, 'text/html; charset=utf-8', errorPage({ realmTitle: realmTitle(), message: `Unsupported interaction: ${details.prompt.name}` }));
      return;
    }
    if (req.method === 'GET') {
      send(res, 200, 'text/html; charset=utf-8', loginPage({ action, realmTitle: realmTitle(), clientName }));
      return;
    }
    if (req.method !== 'POST') {
      send(res, 405, 'text/plain', 'method not allowed', { Allow: 'GET, POST' });
      return;
    }
    const form = new URLSearchParams(await readBody(req));
    const login = form.get('username') || '';
    const user = realm().lookup(login);
    const passwordOk = !!user && user.password !== undefined && sameSecret(user.password, form.get('password') || '');
    if (!passwordOk || !user.enabled) {
      const error = passwordOk && !user.enabled
        ? 'Account is disabled, contact your admin.'
        : 'Invalid username or password.';
      log(`login failed user=${JSON.stringify(login)} client=${details.params.client_id} reason=${passwordOk ? 'disabled' : 'invalid_credentials'}`);
      send(res, 200, 'text/html; charset=utf-8', loginPage({
        action, realmTitle: realmTitle(), clientName, username: login, error,
      }));
      return;
    }
    log(`login ok user=${user.username} client=${details.params.client_id} groups=[${realm().groupClaim(user).join(',')}]`);
    await provider.interactionFinished(req, res, {
      login: { accountId: user.id, amr: ['pwd'] },
    }, { mergeWithLastSubmission: false });
  }

  // Userinfo with Keycloak's JWT access tokens: verify the signature with our keys, then answer
  // from the CURRENT realm data (oidc-provider's own userinfo only takes audience-less opaque tokens).
  async function userinfo(req, res) {
    const bearerError = (status, error, description) => send(res, status, 'application/json', JSON.stringify({ error, error_description: description }), {
      'WWW-Authenticate': `Bearer realm="${realmName}", error="${error}", error_description="${description}"`,
      'Access-Control-Allow-Origin': req.headers.origin || '*',
    });
    if (req.method === 'OPTIONS') {
      send(res, 204, 'text/plain', '', {
        'Access-Control-Allow-Origin': req.headers.origin || '*',
        'Access-Control-Allow-Headers': 'Authorization, Content-Type',
        'Access-Control-Allow-Methods': 'GET, POST',
      });
      return;
    }
    if (req.method !== 'GET' && req.method !== 'POST') {
      send(res, 405, 'text/plain', 'method not allowed', { Allow: 'GET, POST' });
      return;
    }
    let token;
    const auth = req.headers.authorization || '';
    if (/^bearer /i.test(auth)) token = auth.slice(7).trim();
    else if (req.method === 'POST') token = new URLSearchParams(await readBody(req)).get('access_token') || undefined;
    if (!token) {
      bearerError(401, 'invalid_request', 'Token not provided');
      return;
    }
    let payload;
    try {
      const [h, p, s] = token.split('.');
      const header = b64json(h);
      const key = publicKeys.get(header.kid);
      if (header.alg !== 'RS256' || !key) throw new Error('unknown key');
      if (!verify('RSA-SHA256', Buffer.from(`${h}.${p}`), key, Buffer.from(s, 'base64url'))) throw new Error('bad signature');
      payload = b64json(p);
    } catch {
      bearerError(401, 'invalid_token', 'Token verification failed');
      return;
    }
    if (payload.iss !== issuer || payload.typ !== 'Bearer' || !(payload.exp > Date.now() / 1000)) {
      bearerError(401, 'invalid_token', 'Token verification failed');
      return;
    }
    if (!String(payload.scope || '').split(' ').includes('openid')) {
      bearerError(403, 'insufficient_scope', 'Missing openid scope');
      return;
    }
    const data = realm();
    const user = data.usersById.get(payload.sub);
    if (!user || !user.enabled) {
      bearerError(401, 'invalid_token', 'User not found or disabled');
      return;
    }
    send(res, 200, 'application/json', JSON.stringify(data.claims(user)), {
      'Access-Control-Allow-Origin': req.headers.origin || '*',
    });
  }

  // Keycloak's realm info document (GET /realms/<realm>), used by some adapters.
  function realmInfo(res) {
    const [first] = keys.jwks;
    const spki = createPublicKey({ key: first, format: 'jwk' }).export({ format: 'der', type: 'spki' });
    send(res, 200, 'application/json', JSON.stringify({
      realm: realmName,
      public_key: spki.toString('base64'),
      'token-service': `${issuer}/protocol/openid-connect`,
      'account-service': `${issuer}/account`,
      'tokens-not-before': 0,
    }));
  }

  server.on('request', async (req, res) => {
    try {
      const { pathname } = new URL(req.url, origin);
      if (pathname === prefix || pathname === `${prefix}/`) {
        realmInfo(res);
        return;
      }
      if (!pathname.startsWith(`${prefix}/`)) {
        send(res, 404, 'application/json', JSON.stringify({ error: 'Realm does not exist' }));
        return;
      }
      const rest = pathname.slice(prefix.length);
      const login = rest.match(/^\/login-actions\/authenticate\/([A-Za-z0-9_-]+)$/);
      if (login) {
        await loginActions(req, res, login[1]);
        return;
      }
      if (rest === '/protocol/openid-connect/userinfo') {
        await userinfo(req, res);
        return;
      }
      // Mount oidc-provider under the realm prefix, as express' app.use(prefix, ...) would.
      req.originalUrl = req.url;
      req.url = req.url.slice(prefix.length) || '/';
      callback(req, res);
    } catch (err) {
      log(`request failed ${req.method} ${req.url}: ${err.stack || err}`);
      if (!res.headersSent) send(res, 500, 'application/json', JSON.stringify({ error: 'server_error' }));
      else res.end();
    }
  });

  const sweeper = setInterval(sweep, 60_000);
  sweeper.unref();

  let stopping = false;
  const stop = (signal) => {
    if (stopping) return;
    stopping = true;
    log(`${signal} received, stopping`);
    server.close(() => process.exit(0));
    server.closeAllConnections();
    setTimeout(() => process.exit(0), 2000).unref();
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));

  log(`ready issuer=${issuer} realm_file=${args.realmFile} users=${realm().users.size} clients=${[...realm().clients.keys()].join(',')}`);
}

main().catch((err) => {
  process.stderr.write(`devidp: ${err.stack || err}\n`);
  process.exit(1);
});
