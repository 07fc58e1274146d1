// bench/oidc-peer.mjs: the issuer for oidc-agent in bench/side.sh.
// oidc-provider (from tests/oidc/node_modules, `make oidc-deps`) on
// 127.0.0.1 with one confidential client, "agent", that has the
// refresh_token grant, and a refresh token minted for it as a person's
// consent would leave it.  tests/oidc/server.mjs mints its refresh tokens
// with the scopes "read write" only, and oidc-agent always asks for
// "openid offline_access" on top of the account's scopes (a refresh with
// scopes the token lacks is invalid_scope), so this one grants
// "openid offline_access read".
//
// usage: node bench/oidc-peer.mjs SECRET-FILE RT-FILE PORT-FILE
//
// The client secret is read from SECRET-FILE; the refresh token goes to
// RT-FILE (0600), then the port to PORT-FILE, each written atomically.
// The issuer is http://127.0.0.1:PORT.  SIGTERM ends it.
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const [secretFile, rtFile, portFile] = process.argv.slice(2);
if (!secretFile || !rtFile || !portFile) {
	process.stderr.write('usage: node oidc-peer.mjs SECRET-FILE RT-FILE PORT-FILE\n');
	process.exit(2);
}
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { default: Provider } = await import(pathToFileURL(
	join(root, 'tests/oidc/node_modules/oidc-provider/lib/index.js')).href);
const scope = 'openid offline_access read';

function writeAtomic(file, text, mode) {
	writeFileSync(`${file}.tmp`, text, { mode });
	renameSync(`${file}.tmp`, file);
}

const server = createServer();
server.listen(0, '127.0.0.1', async () => {
	const { port } = server.address();
	const provider = new Provider(`http://127.0.0.1:${port}`, {
		clients: [{
			client_id: 'agent',
			client_secret: readFileSync(secretFile, 'utf8').trim(),
			token_endpoint_auth_method: 'client_secret_basic',
			grant_types: ['refresh_token'],
			redirect_uris: [],
			response_types: [],
		}],
		scopes: ['openid', 'offline_access', 'read'],
		features: { devInteractions: { enabled: false } },
		cookies: { keys: ['tokenbroker-bench-only'] },
		findAccount: (ctx, sub) => ({ accountId: sub, claims: () => ({ sub }) }),
		issueRefreshToken: (ctx, client) => client.grantTypeAllowed('refresh_token'),
		rotateRefreshToken: true,
		ttl: { AccessToken: 3600, IdToken: 3600, RefreshToken: 24 * 3600, Grant: 24 * 3600 },
	});
	provider.on('server_error', (ctx, err) => process.stderr.write(`server_error: ${err}\n`));
	provider.on('grant.success', (ctx) => process.stderr.write(
		`grant.success: ${ctx.oidc.params.grant_type} for ${ctx.oidc.client.clientId}\n`));
	provider.on('grant.error', (ctx, err) => process.stderr.write(
		`grant.error: ${err.error} (${err.error_detail || err.error_description})\n`));
	server.on('request', provider.callback());
	try {
		const client = await provider.Client.find('agent');
		const accountId = 'tb-bench-user';
		const grant = new provider.Grant({ accountId, clientId: 'agent' });
		grant.addOIDCScope(scope);
		const grantId = await grant.save();
		const token = new provider.RefreshToken({
			accountId, client, grantId, gty: 'authorization_code', scope,
			authTime: Math.floor(Date.now() / 1000), expiresWithSession: false,
		});
		writeAtomic(rtFile, `${await token.save()}\n`, 0o600);
		writeAtomic(portFile, `${port}\n`, 0o644);
	} catch (err) {
		process.stderr.write(`${err.message}\n`);
		process.exit(1);
	}
});
process.on('SIGTERM', () => process.exit(0));
