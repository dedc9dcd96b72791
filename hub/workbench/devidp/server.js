#!/usr/bin/env node
// Dev identity provider of the S2P Workbench: a Keycloak-shaped OpenID Connect provider built on
// the certified `oidc-provider` package. It serves one realm of a Keycloak realm export under
// Keycloak's URL layout (/realms/<realm>/...) with Keycloak's claims, so the hub talks to it
// exactly as it talks to a production Keycloak. Development only: sessions in memory (and in the
// state dir, if given), plain HTTP, loopback addresses only.
//
//   node server.js REALM_FILE [--port N] [--host 127.0.0.1] [--realm NAME]
//        [--redirect-uris JSON] [--post-logout-uris JSON] [--state-dir DIR] [--node-modules DIR] [--parent-pid PID]

import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

import { makeHandlers, send } from './handlers.js';
import { createProvider } from './provider.js';
import { RealmFile } from './realm.js';
import { persistTo, sweep } from './store.js';

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1']);

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
      'post-logout-uris': { type: 'string' },
      'state-dir': { type: 'string' },
      'node-modules': { type: 'string' },
      'parent-pid': { type: 'string' },
    },
  });
  if (positionals.length !== 1) fail('usage: server.js REALM_FILE [--port N] [--realm NAME] ...');
  if (!LOOPBACK.has(values.host)) fail(`refusing to bind ${values.host}: the dev IdP binds loopback addresses only`);
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) fail(`invalid --port ${values.port}`);
  const clientUris = (option) => {
    if (!values[option]) return {};
    try {
      return JSON.parse(values[option]);
    } catch (err) {
      return fail(`--${option} must be JSON {"clientId": ["uri", ...]}: ${err.message}`);
    }
  };
  const redirectOverrides = clientUris('redirect-uris');
  const postLogoutOverrides = clientUris('post-logout-uris');
  return {
    realmFile: resolve(positionals[0]),
    port,
    host: values.host,
    realmName: values.realm,
    redirectOverrides,
    postLogoutOverrides,
    stateDir: values['state-dir'],
    nodeModules: values['node-modules'],
    parentPid: values['parent-pid'] ? Number(values['parent-pid']) : undefined,
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

async function main() {
  const args = parseCommandLine();
  const { default: Provider, errors } = await loadOidcProvider(args.nodeModules);

  const realmFile = new RealmFile(args.realmFile, {
    realmName: args.realmName,
    redirectOverrides: args.redirectOverrides,
    postLogoutOverrides: args.postLogoutOverrides,
    log,
  });
  const realm = () => realmFile.current();
  const realmName = realm().name;
  const prefix = `/realms/${encodeURIComponent(realmName)}`;
  const keys = loadKeys(args.stateDir);
  if (args.stateDir) {
    const kept = persistTo(join(args.stateDir, 'devidp-sessions.json'));
    if (kept) log(`kept ${kept} stored sessions, grants and tokens from ${args.stateDir}`);
  }

  const server = http.createServer();
  await new Promise((ok, ko) => {
    server.once('error', ko);
    server.listen(args.port, args.host, ok);
  });
  const { port } = server.address();
  const hostForUrl = args.host.includes(':') ? `[${args.host}]` : args.host;
  const origin = `http://${hostForUrl}:${port}`;
  const issuer = `${origin}${prefix}`;
  const provider = createProvider({
    Provider, errors, issuer, prefix, realm, keys, log,
  });
  const callback = provider.callback();
  const { loginActions, userinfo, realmInfo } = makeHandlers({
    provider, realm, realmName, prefix, issuer, keys, log,
  });

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
  const stop = (reason) => {
    if (stopping) return;
    stopping = true;
    log(`${reason}, stopping`);
    server.close(() => process.exit(0));
    server.closeAllConnections();
    setTimeout(() => process.exit(0), 2000).unref();
  };
  process.on('SIGTERM', () => stop('SIGTERM received'));
  process.on('SIGINT', () => stop('SIGINT received'));
  if (args.parentPid) {
    // The launcher may be killed without stopping us (SIGKILL, crash): do not outlive it.
    setInterval(() => {
      try {
        process.kill(args.parentPid, 0);
      } catch {
        stop(`parent ${args.parentPid} gone`);
      }
    }, 1000).unref();
  }

  log(`ready issuer=${issuer} realm_file=${args.realmFile} users=${realm().users.size} clients=${[...realm().clients.keys()].join(',')}`);
}

main().catch((err) => {
  process.stderr.write(`devidp: ${err.stack || err}\n`);
  process.exit(1);
});
