// HTML pages of the dev IdP, shaped like Keycloak's default theme so that the same browser or
// HTTP-client automation works against both: form#kc-form-login with inputs `username` and
// `password` and the submit button #kc-login; errors in #input-error-username (theme keycloak.v2).

export function escapeHtml(value) {
  return String(value ?? '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

const STYLE = `body{font-family:sans-serif;background:#f0f0f0;margin:0}
#kc-header{background:#1d2b3a;color:#fff;padding:18px 24px;font-size:20px}
.card{background:#fff;max-width:420px;margin:48px auto;padding:24px 32px;box-shadow:0 2px 6px rgba(0,0,0,.2)}
label{display:block;margin-top:12px}input[type=text],input[type=password]{width:100%;padding:8px;box-sizing:border-box}
#kc-login,#kc-logout{margin-top:18px;width:100%;padding:10px;background:#0066cc;color:#fff;border:0;cursor:pointer}
.alert-error{background:#fdeaea;border:1px solid #c9190b;color:#c9190b;padding:8px;margin-bottom:12px}
.dev-note{color:#666;font-size:12px;margin-top:18px}`;

function page(title, realmTitle, body) {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="robots" content="noindex, nofollow">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>${STYLE}</style>
</head>
<body>
<div id="kc-header"><div id="kc-header-wrapper">${escapeHtml(realmTitle)}</div></div>
<div class="card">
${body}
</div>
</body>
</html>`;
}

/** The username/password form; `error` (if any) is shown above it like Keycloak does. */
export function loginPage({
  action, realmTitle, clientName, username = '', error,
}) {
  const alert = error
    ? `<div class="alert-error" id="input-error-username" role="alert"><span class="kc-feedback-text" aria-live="polite">${escapeHtml(error)}</span></div>`
    : '';
  return page(`Sign in to ${realmTitle}`, realmTitle, `
<h1 id="kc-page-title">Sign in to your account</h1>
${clientName ? `<p id="kc-client">to continue to ${escapeHtml(clientName)}</p>` : ''}
${alert}
<form id="kc-form-login" action="${escapeHtml(action)}" method="post" autocomplete="off">
  <label for="username">Username or email</label>
  <input tabindex="1" id="username" name="username" type="text" value="${escapeHtml(username)}" autofocus autocomplete="username"${error ? ' aria-invalid="true"' : ''}>
  <label for="password">Password</label>
  <input tabindex="2" id="password" name="password" type="password" autocomplete="current-password"${error ? ' aria-invalid="true"' : ''}>
  <input type="hidden" id="id-hidden-input" name="credentialId">
  <input tabindex="4" name="login" id="kc-login" type="submit" value="Sign In">
</form>
<p class="dev-note">Development identity provider of the S2P Workbench (Keycloak-compatible). Not for production.</p>`);
}

/** Keycloak's "We are sorry..." page. */
export function errorPage({ realmTitle, message }) {
  return page('Sign in error', realmTitle, `
<h1 id="kc-page-title">We are sorry...</h1>
<p id="kc-error-message" class="instruction">${escapeHtml(message)}</p>`);
}

/**
 * Keycloak's end-session confirmation, shown when the request carries no `id_token_hint` (with a
 * valid hint the provider logs out at once). oidc-provider passes its own form with a CSRF token.
 */
export function logoutPage({ realmTitle, form }) {
  return page('Logging out', realmTitle, `
<h1 id="kc-page-title">Logging out</h1>
<p class="instruction">Do you want to log out?</p>
${form}
<button id="kc-logout" type="submit" form="op.logoutForm" name="logout" value="yes">Logout</button>`);
}

export function loggedOutPage({ realmTitle }) {
  return page('Logged out', realmTitle, `
<h1 id="kc-page-title">You are logged out</h1>`);
}
