// A real OpenID Connect provider for the tests: the npm package `oidc-provider`
// (OpenID certified) on loopback, with one confidential client and a small test
// control API. Interactions finish by themselves (login as the chosen account,
// consent granted), or refuse when told to (`/test/deny`).
//
// Usage: node oidc-provider.mjs <port> <client_id> <client_secret> <redirect_uri>
import http from 'node:http';
import Provider from 'oidc-provider';

const [port, clientId, clientSecret, redirectUri] = process.argv.slice(2);
const issuer = `http://127.0.0.1:${port}`;

const accounts = new Map();
const state = { loginAs: null, deny: false, tamper: false, pkceOptional: false };

const provider = new Provider(issuer, {
  clients: [{
    client_id: clientId,
    client_secret: clientSecret,
    redirect_uris: [redirectUri],
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_post',
  }],
  scopes: ['openid', 'email', 'profile', 'roles', 'groups'],
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name', 'preferred_username', 'picture'],
    roles: ['roles'],
    groups: ['groups'],
  },
  features: { devInteractions: { enabled: false } },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  async findAccount(ctx, sub) {
    const a = accounts.get(sub);
    if (!a) return undefined;
    return { accountId: sub, async claims() { return { sub, ...a }; } };
  },
  // Rocket.Chat's mobile app sends no PKCE: the tests of its flow allow that.
  pkce: { required: () => !state.pkceOptional },
  ttl: { AccessToken: 600, AuthorizationCode: 60, IdToken: 600, Interaction: 600, Session: 600, Grant: 600 },
});
provider.proxy = false;

// Tampering: flip one character of the ID token's payload in the next token answer.
provider.use(async (ctx, next) => {
  await next();
  if (ctx.path === '/token' && state.tamper && ctx.body && ctx.body.id_token) {
    state.tamper = false;
    const [h, p, s] = ctx.body.id_token.split('.');
    const claims = JSON.parse(Buffer.from(p, 'base64url').toString());
    claims.sub = `${claims.sub}-forged`;
    ctx.body = { ...ctx.body, id_token: `${h}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${s}` };
  }
});

async function body(req) {
  const chunks = [];
  for await (const c of req) chunks.push(c);
  return chunks.length ? JSON.parse(Buffer.concat(chunks).toString()) : {};
}

function json(res, status, value) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(value));
}

async function interaction(req, res) {
  const details = await provider.interactionDetails(req, res);
  if (state.deny) {
    return provider.interactionFinished(req, res,
      { error: 'access_denied', error_description: 'The user refused' }, { mergeWithLastSubmission: false });
  }
  if (details.prompt.name === 'login') {
    return provider.interactionFinished(req, res, { login: { accountId: state.loginAs } },
      { mergeWithLastSubmission: false });
  }
  const { missingOIDCScope, missingOIDCClaims, missingResourceScopes } = details.prompt.details;
  const grant = details.grantId
    ? await provider.Grant.find(details.grantId)
    : new provider.Grant({ accountId: details.session.accountId, clientId: details.params.client_id });
  if (missingOIDCScope) grant.addOIDCScope(missingOIDCScope.join(' '));
  if (missingOIDCClaims) grant.addOIDCClaims(missingOIDCClaims);
  for (const [indicator, scopes] of Object.entries(missingResourceScopes || {})) {
    grant.addResourceScope(indicator, scopes.join(' '));
  }
  const grantId = await grant.save();
  return provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
}

async function control(req, res, path) {
  const b = await body(req);
  switch (path) {
    case '/test/account':
      accounts.set(b.sub, b.claims || {});
      return json(res, 200, { ok: true });
    case '/test/login-as':
      state.loginAs = b.sub;
      state.deny = false;
      return json(res, 200, { ok: true });
    case '/test/deny':
      state.deny = true;
      return json(res, 200, { ok: true });
    case '/test/pkce-optional':
      state.pkceOptional = true;
      return json(res, 200, { ok: true });
    case '/test/tamper':
      state.tamper = true;
      return json(res, 200, { ok: true });
    case '/test/token': {
      // An access token as the mobile app would hold after its own sign-in.
      const client = await provider.Client.find(clientId);
      const grant = new provider.Grant({ accountId: b.sub, clientId });
      grant.addOIDCScope('openid email profile roles groups');
      const grantId = await grant.save();
      const at = new provider.AccessToken({
        accountId: b.sub, client, grantId, scope: 'openid email profile roles groups',
      });
      return json(res, 200, { access_token: await at.save() });
    }
    default:
      return json(res, 404, { error: 'not found' });
  }
}

const callback = provider.callback();
const server = http.createServer((req, res) => {
  const path = new URL(req.url, issuer).pathname;
  const handle = path.startsWith('/test/') ? control(req, res, path)
    : path.startsWith('/interaction/') ? interaction(req, res)
      : Promise.resolve(callback(req, res));
  handle.catch((e) => {
    console.error(e);
    if (!res.headersSent) json(res, 500, { error: String(e) });
  });
});
server.listen(Number(port), '127.0.0.1', () => console.log(`oidc-provider ready at ${issuer}`));
