// The login screen.

import { h, clear } from './dom.js';
import { login } from './api.js';

/** Why a login failed, in words a person can act on. */
function explain(err) {
  if (err.status === 429) return 'Too many login attempts. Wait a minute and try again.';
  if (err.errorType === 'error-user-is-not-activated') return 'This account is deactivated. Ask an administrator.';
  if ((err.body && err.body.error) === 'error-invalid-email') return 'Confirm your e-mail address first: follow the link in the mail we sent you.';
  if ((err.body && err.body.error) === 'error-password-login-disabled') return 'Password login is turned off here. Use a sign-in button below.';
  if (err.status === 401) return 'Wrong username or password.';
  if (err.status === 0) return err.message;
  return `Login failed: ${err.message}`;
}

/** Why a sign-in with an identity provider failed (`?oauth_error=` on return). */
export function explainOAuth(code, service) {
  const who = service || 'the identity provider';
  switch (code) {
    case 'denied': return `Sign-in with ${who} was cancelled or refused at ${who}.`;
    case 'state': return 'The sign-in could not be verified: it expired, was already used, or was started in another browser. Try again.';
    case 'provider-unreachable': return `${who} could not be reached. Try again later, or ask an administrator.`;
    case 'invalid-id-token': return `The answer from ${who} could not be verified, so you were not signed in.`;
    case 'provider': return `${who} refused the sign-in. Try again, or ask an administrator.`;
    case 'unknown-service': return `Sign-in with ${who} is not available.`;
    case 'misconfigured': return `Sign-in with ${who} is not set up completely. Ask an administrator.`;
    case 'user-is-not-activated': return 'This account is deactivated. Ask an administrator.';
    default: return `Sign-in with ${who} failed.`;
  }
}

/** Set while the session came from SAML, so logging out also logs out at the IdP. */
export const SAML_SESSION_KEY = 'palaver.samlSession';

/** Why a SAML sign-in failed (`?saml_error=` on return from the assertion consumer). */
export function explainSaml(code) {
  switch (code) {
    case 'signature': case 'invalid': case 'audience': case 'unknown-request': case 'replayed':
      return 'The answer from the identity provider could not be verified, so you were not signed in. Try again.';
    case 'expired': return 'The answer from the identity provider has expired (check the clocks). Try again.';
    case 'denied': return 'The identity provider refused the sign-in.';
    case 'unknown-provider': return 'SAML sign-in is not available.';
    case 'misconfigured': return 'SAML sign-in is not set up completely. Ask an administrator.';
    case 'credential': return 'The sign-in expired or was already used. Try again.';
    case 'encrypted': return 'The identity provider encrypted its answer, which Palaver does not accept. Ask an administrator to have it signed instead of encrypted.';
    default: return 'SAML sign-in failed.';
  }
}

/** The "Sign in with …" buttons of the enabled identity providers. */
async function providerButtons(api, container) {
  let services = [];
  try {
    services = (await api('GET', '/api/v1/settings.oauth')).services || [];
  } catch {
    return;
  }
  for (const s of services) {
    if (s.service === 'saml' && s.clientConfig && s.clientConfig.provider) {
      const a = h('a', {
        class: 'button oauth-button', href: `/_saml/authorize/${encodeURIComponent(s.clientConfig.provider)}`,
        testid: 'saml-login', text: `Sign in with ${s.buttonLabelText || 'SAML'}`,
      });
      if (s.buttonColor) a.style.backgroundColor = s.buttonColor;
      if (s.buttonLabelColor) a.style.color = s.buttonLabelColor;
      container.append(a);
      continue;
    }
    if (!s.custom || s.showButton === false) continue;
    const label = s.buttonLabelText || s.service;
    const a = h('a', {
      class: 'button oauth-button', href: `/_oauth/${encodeURIComponent(s.service)}/start`,
      testid: `oauth-${s.service}`, text: `Sign in with ${label}`,
    });
    if (s.buttonColor) a.style.backgroundColor = s.buttonColor;
    if (s.buttonLabelColor) a.style.color = s.buttonLabelColor;
    container.append(a);
  }
  container.hidden = !container.childElementCount;
}

/** Renders the form into `root`; `onLoggedIn({userId, me})` on success. */
export function renderLogin(root, api, siteName, onLoggedIn) {
  const error = h('div', { class: 'form-error', testid: 'login-error', hidden: true, attrs: { role: 'alert' } });
  const providers = h('div', { class: 'oauth-buttons', testid: 'oauth-buttons', hidden: true });
  providerButtons(api, providers);
  // Back from an identity provider with an error: say what happened, once.
  const params = new URLSearchParams(location.search);
  if (params.get('oauth_error')) {
    error.textContent = explainOAuth(params.get('oauth_error'), params.get('service'));
    error.hidden = false;
    history.replaceState(null, '', `/${location.hash}`);
  }
  if (params.get('saml_error')) {
    error.textContent = explainSaml(params.get('saml_error'));
    error.hidden = false;
    history.replaceState(null, '', `/${location.hash}`);
  }
  // Back from the SAML assertion consumer: redeem the single-use credential token.
  const samlToken = params.get('saml_idp_credentialToken');
  if (samlToken) {
    history.replaceState(null, '', `/${location.hash}`);
    api('POST', '/api/v1/login', { saml: true, credentialToken: samlToken }, { 'X-Palaver-Session': 'cookie' })
      .then((res) => {
        try { localStorage.setItem(SAML_SESSION_KEY, '1'); } catch { /* storage off: local logout only */ }
        onLoggedIn(res.data);
      })
      .catch((err) => {
        const type = err.body && err.body.error;
        error.textContent = type && type.startsWith('error-saml-')
          ? explainSaml(type.slice('error-saml-'.length)) : explain(err);
        error.hidden = false;
      });
  }
  const user = h('input', {
    id: 'login-user', name: 'username', autocomplete: 'username', required: true, testid: 'login-username',
    attrs: { autocapitalize: 'none', spellcheck: 'false' },
  });
  const password = h('input', {
    id: 'login-password', name: 'password', type: 'password', autocomplete: 'current-password', required: true,
    testid: 'login-password',
  });
  const submit = h('button', { type: 'submit', class: 'primary', text: 'Log in', testid: 'login-submit' });
  const form = h('form', { class: 'login-card', attrs: { 'aria-labelledby': 'login-title', novalidate: true } },
    h('h1', { id: 'login-title', text: `Log in to ${siteName}` }),
    error,
    h('div', { class: 'field' }, h('label', { htmlFor: 'login-user', text: 'Username or e-mail' }), user),
    h('div', { class: 'field' }, h('label', { htmlFor: 'login-password', text: 'Password' }), password),
    submit,
    h('button', {
      type: 'button', class: 'link', testid: 'forgot-password', text: 'Forgot your password?',
      onclick: () => renderForgotPassword(root, api, siteName, () => renderLogin(root, api, siteName, onLoggedIn)),
    }),
    providers);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    error.hidden = true;
    if (!user.value.trim() || !password.value) {
      error.textContent = 'Enter your username and password.';
      error.hidden = false;
      (user.value.trim() ? password : user).focus();
      return;
    }
    submit.disabled = true;
    submit.textContent = 'Logging in…';
    try {
      const data = await login(api, user.value.trim(), password.value);
      onLoggedIn(data);
    } catch (err) {
      error.textContent = explain(err);
      error.hidden = false;
      password.select();
      password.focus();
    } finally {
      submit.disabled = false;
      submit.textContent = 'Log in';
    }
  });
  clear(root).append(h('main', { class: 'login-page', testid: 'login-page' }, form));
  user.focus();
}

/**
 * "Forgot your password?": asks for the address and has the server mail a reset
 * link (`users.forgotPassword`). The answer is the same whether or not an account
 * has the address, as the server's is.
 */
export function renderForgotPassword(root, api, siteName, onBack) {
  const error = h('div', { class: 'form-error', testid: 'forgot-error', hidden: true, attrs: { role: 'alert' } });
  const done = h('p', { testid: 'forgot-done', hidden: true, attrs: { role: 'status' } });
  const email = h('input', {
    id: 'forgot-email', name: 'email', type: 'email', autocomplete: 'email', required: true, testid: 'forgot-email',
  });
  const submit = h('button', { type: 'submit', class: 'primary', text: 'Send me a link', testid: 'forgot-submit' });
  const back = h('button', { type: 'button', class: 'link', testid: 'forgot-back', text: 'Back to log in', onclick: onBack });
  const form = h('form', { class: 'login-card', attrs: { 'aria-labelledby': 'forgot-title', novalidate: true } },
    h('h1', { id: 'forgot-title', text: `Reset your ${siteName} password` }),
    error,
    done,
    h('div', { class: 'field' }, h('label', { htmlFor: 'forgot-email', text: 'Your e-mail address' }), email),
    submit,
    back);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    error.hidden = true;
    if (!email.value.trim()) {
      error.textContent = 'Enter your e-mail address.';
      error.hidden = false;
      email.focus();
      return;
    }
    submit.disabled = true;
    try {
      await api('POST', '/api/v1/users.forgotPassword', { email: email.value.trim() });
      done.textContent = 'If an account has this address, a link to reset its password is on its way. Check your mail.';
      done.hidden = false;
    } catch (err) {
      error.textContent = err.status === 429 ? 'Too many requests. Wait a minute and try again.' : `The link could not be sent: ${err.message}`;
      error.hidden = false;
    } finally {
      submit.disabled = false;
    }
  });
  clear(root).append(h('main', { class: 'login-page', testid: 'forgot-page' }, form));
  email.focus();
}

/**
 * The page the password reset e-mail links to (`/reset-password/<token>` redirects
 * to `#/reset-password/<token>`): a new password, set with Rocket.Chat's
 * `resetPassword` method; then back to the login form.
 */
export function renderResetPassword(root, api, siteName, token, onDone) {
  const error = h('div', { class: 'form-error', testid: 'reset-error', hidden: true, attrs: { role: 'alert' } });
  const password = h('input', {
    id: 'reset-password', name: 'new-password', type: 'password', autocomplete: 'new-password', required: true,
    testid: 'reset-password',
  });
  const confirm = h('input', {
    id: 'reset-confirm', name: 'confirm-password', type: 'password', autocomplete: 'new-password', required: true,
    testid: 'reset-confirm',
  });
  const submit = h('button', { type: 'submit', class: 'primary', text: 'Set password', testid: 'reset-submit' });
  const form = h('form', { class: 'login-card', attrs: { 'aria-labelledby': 'reset-title', novalidate: true } },
    h('h1', { id: 'reset-title', text: `Choose a new password for ${siteName}` }),
    error,
    h('div', { class: 'field' }, h('label', { htmlFor: 'reset-password', text: 'New password' }), password),
    h('div', { class: 'field' }, h('label', { htmlFor: 'reset-confirm', text: 'Repeat it' }), confirm),
    submit);
  const fail = (text) => {
    error.textContent = text;
    error.hidden = false;
    password.focus();
  };
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    error.hidden = true;
    if (!password.value) return fail('Enter a new password.');
    if (password.value !== confirm.value) return fail('The two passwords differ.');
    submit.disabled = true;
    try {
      const message = JSON.stringify({ msg: 'method', id: '1', method: 'resetPassword', params: [token, password.value] });
      const res = await api('POST', '/api/v1/method.callAnon/resetPassword', { message });
      const answer = JSON.parse(res.message || '{}');
      if (answer.error) {
        fail(answer.error.error === 'error-invalid-token'
          ? 'This link has expired or was already used. Ask for a new one.'
          : (answer.error.reason || answer.error.message || 'The password could not be set.'));
        return;
      }
      onDone();
    } catch (err) {
      fail(explain(err));
    } finally {
      submit.disabled = false;
    }
  });
  clear(root).append(h('main', { class: 'login-page', testid: 'reset-page' }, form));
  password.focus();
}
