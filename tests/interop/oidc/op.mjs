// A real OpenID provider (the npm package oidc-provider) on loopback for fedgate's interop
// tests. `node op.mjs gen KID ALG` prints a private JWK; `node op.mjs serve PORT KEYS.json
// REDIRECT_URIS` serves the provider with those signing keys (the first one signs) for clients
// that may return to the comma-separated redirect URIs.
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import Provider from 'oidc-provider';

const [mode, ...args] = process.argv.slice(2);

if (mode === 'gen') {
  const [kid, alg] = args;
  const pair = alg === 'ES256'
    ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
    : generateKeyPairSync('rsa', { modulusLength: 2048 });
  process.stdout.write(JSON.stringify({ ...pair.privateKey.export({ format: 'jwk' }), kid, alg, use: 'sig' }));
  process.exit(0);
}

const [port, keysFile, redirectUris] = args;
const keys = JSON.parse(readFileSync(keysFile, 'utf8'));
const issuer = `http://127.0.0.1:${port}`;
const client = (id, alg) => ({
  client_id: id,
  application_type: 'native',
  token_endpoint_auth_method: 'none',
  redirect_uris: redirectUris.split(','),
  response_types: ['id_token'],
  grant_types: ['implicit'],
  id_token_signed_response_alg: alg,
});
const provider = new Provider(issuer, {
  clients: [client('fedgate-rs256', 'RS256'), client('fedgate-es256', 'ES256')],
  jwks: { keys },
  findAccount: async (ctx, sub) => ({
    accountId: sub,
    async claims() {
      return { sub, email: `${sub}@corp.example`, groups: ['devs', 'staff'] };
    },
  }),
  claims: { openid: ['sub'], email: ['email'], profile: ['groups'] },
  conformIdTokenClaims: false,
  responseTypes: ['id_token'],
  features: { devInteractions: { enabled: true } },
  cookies: { keys: ['fedgate-interop-cookie-key'] },
  enabledJWA: { idTokenSigningAlgValues: ['RS256', 'ES256'] },
  ttl: { IdToken: 600 },
});
provider.listen(Number(port), '127.0.0.1', () => {
  console.log(`oidc-provider listening at ${issuer}`);
});
