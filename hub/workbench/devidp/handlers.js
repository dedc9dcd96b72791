// The dev IdP's own HTTP handlers beside oidc-provider: the Keycloak-shaped login form of the
// interaction, userinfo for JWT access tokens, and the realm info document.

import {
  createHash, createPrivateKey, createPublicKey, timingSafeEqual, verify,
} from 'node:crypto';

import { errorPage, loginPage } from './pages.js';

export function readBody(req, limit = 64 * 1024) {
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

export function send(res, status, type, body, headers = {}) {
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

/** Handlers bound to one provider and realm: `{ loginActions, userinfo, realmInfo }`. */
export function makeHandlers({
  provider, realm, realmName, prefix, issuer, keys, log,
}) {
  const realmTitle = () => realm().displayName;
  const publicKeys = new Map(keys.jwks.map((k) => [k.kid, createPublicKey(createPrivateKey({ key: k, format: 'jwk' }))]));

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
        ? 'Account is disabled, contact your administrator.'
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

  return { loginActions, userinfo, realmInfo };
}
