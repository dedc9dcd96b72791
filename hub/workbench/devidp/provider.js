// oidc-provider configured to behave like a Keycloak realm: Keycloak's endpoint paths, claims,
// JWT access tokens, refresh tokens in the code flow, no consent screen for the realm's clients,
// redirect URIs matched exactly or by a trailing `*`, and claims computed from the current realm
// data at every token issue.

import { makeAdapter } from './store.js';
import { errorPage, loggedOutPage, logoutPage } from './pages.js';

// Keycloak's default client scopes; requesting any of them must not fail.
export const KEYCLOAK_SCOPES = [
  'openid', 'offline_access', 'profile', 'email', 'roles', 'web-origins', 'acr', 'basic',
  'address', 'phone', 'microprofile-jwt', 'organization',
];
// Access tokens are JWTs like Keycloak's. oidc-provider only issues JWT access tokens for a
// resource server, so every token is issued for this one implicit resource.
const RESOURCE = 'urn:s2p-workbench:devidp:access-token';

/**
 * Build the provider for `issuer` (`http://host:port/realms/<realm>`).
 *
 * @param {object} o
 * @param {Function} o.Provider - oidc-provider's Provider class
 * @param {object} o.errors - oidc-provider's error classes
 * @param {string} o.issuer - issuer URL
 * @param {string} o.prefix - `/realms/<realm>`, the path the provider is mounted on
 * @param {() => import('./realm.js').RealmData} o.realm - the current realm data
 * @param {object} o.keys - `{ jwks: [private JWK], cookieKeys: [string] }`
 * @param {(msg: string) => void} o.log - one-line logger
 */
// Keycloak's RP-initiated logout with a valid id_token_hint: no confirmation page. The session ends,
// the tokens of its grants stop working, and the browser goes straight to post_logout_redirect_uri
// (302, with `state` when one was given) or to the "logged out" page.
async function endSessionNow(ctx) {
  const { session, provider } = ctx.oidc;
  const state = session.state || {};
  for (const { grantId } of Object.values(session.authorizations || {})) {
    if (grantId) {
      await provider.AccessToken.adapter.revokeByGrantId(grantId); // every token of the grant
      await provider.Grant.adapter.destroy(grantId);
    }
  }
  await session.destroy();
  ctx.oidc.cookies.set(provider.cookieName('session'), null, { signed: true, httpOnly: true, sameSite: 'lax' });
  let target = ctx.oidc.urlFor('end_session_success');
  if (state.postLogoutRedirectUri) {
    const url = new URL(state.postLogoutRedirectUri);
    if (state.state != null) url.searchParams.set('state', state.state);
    target = url.href;
  }
  provider.emit('end_session.success', ctx);
  ctx.status = 302;
  ctx.redirect(target);
}

export function createProvider({
  Provider, errors, issuer, prefix, realm, keys, log,
}) {
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
          if (ctx.oidc.entities.IdTokenHint) {
            // Like Keycloak: a client that proves the session with id_token_hint logs out at once.
            await endSessionNow(ctx);
            return;
          }
          ctx.type = 'html';
          ctx.body = logoutPage({ realmTitle: realm().displayName, form });
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

  // Keycloak's ID tokens name the client they were issued to (azp) and their kind (typ "ID").
  const issueToken = provider.IdToken.prototype.issue;
  provider.IdToken.prototype.issue = function issue(options = {}) {
    if (options.use === 'idtoken') {
      this.set('azp', this.client.clientId);
      this.set('typ', 'ID');
    }
    return issueToken.call(this, options);
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


  return provider;
}
