// A real authorization server for tokenbroker's integration tests:
// oidc-provider (the certified OpenID Connect server for Node.js) on
// 127.0.0.1, with the client credentials grant, the refresh_token grant and
// token introspection on.
//
// usage: node server.mjs [--refresh-token CLIENT=FILE]... [--access-token-ttl SECONDS]
//                         CLIENTS.json PORT-FILE
//                         [TLS-CERT TLS-KEY CLIENT-CA TLS-PORT-FILE]
//
// CLIENTS.json is an array of oidc-provider client metadata (client_id,
// token_endpoint_auth_method, jwks or client_secret, ...); every client
// gets grant_types ["client_credentials"] and no redirect URIs unless it
// says otherwise.  The port, picked by the kernel, is written to PORT-FILE
// (atomically: a temporary file renamed) once the server listens; the
// issuer is http://127.0.0.1:PORT.  Tokens are opaque and introspectable at
// /token/introspection by any of the clients; a request with resource
// (RFC 8707) gets a token whose audience is that resource.  With the four TLS
// arguments the same server also answers HTTPS on a second port (written
// to TLS-PORT-FILE), where it asks for a client certificate signed by
// CLIENT-CA: a client registered with tls_client_auth and
// tls_client_auth_subject_dn "CN=NAME" authenticates with a certificate
// whose subject is CN=NAME (RFC 8705).
//
// Refresh tokens come from the authorization code flow only, which needs a
// person at a browser; --refresh-token CLIENT=FILE stands in for that flow:
// before the port file is written, a grant of the scopes "read write" for
// the account tb-test-user and CLIENT (registered with "grant_types":
// ["refresh_token"], say) is made, as a consent would, and the refresh
// token of that grant is written to FILE (mode 0600, a newline after it).
// Refresh tokens are rotated: each refresh consumes the token presented
// and answers with a new one; a consumed one presented again is
// invalid_grant ("refresh token already used") and revokes the whole
// grant, the newest token included.  --access-token-ttl sets the lifetime
// of the access tokens the refresh_token grant issues (default 3600 s).
// Each token request's outcome, each consumed refresh token and each
// revoked grant is a line on stderr, never with a token.  SIGTERM ends it.
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import { parseArgs } from 'node:util';
import Provider from 'oidc-provider';

function usage() {
	process.stderr.write('usage: node server.mjs [--refresh-token CLIENT=FILE]... ' +
		'[--access-token-ttl SECONDS] CLIENTS.json PORT-FILE ' +
		'[TLS-CERT TLS-KEY CLIENT-CA TLS-PORT-FILE]\n');
	process.exit(2);
}
let args;
try {
	args = parseArgs({
		options: {
			'refresh-token': { type: 'string', multiple: true, default: [] },
			'access-token-ttl': { type: 'string', default: '3600' },
		},
		allowPositionals: true,
	});
} catch (err) {
	process.stderr.write(`${err.message}\n`);
	usage();
}
const [clientsFile, portFile, tlsCert, tlsKey, clientCa, tlsPortFile] = args.positionals;
const accessTokenTtl = Number(args.values['access-token-ttl']);
const mints = args.values['refresh-token'].map((v) => {
	const eq = v.indexOf('=');
	return eq > 0 ? { clientId: v.slice(0, eq), file: v.slice(eq + 1) } : null;
});
if (!clientsFile || !portFile || !(Number.isInteger(accessTokenTtl) && accessTokenTtl > 0) ||
    mints.includes(null)) {
	usage();
}
const clients = JSON.parse(readFileSync(clientsFile, 'utf8')).map((c) => ({
	grant_types: ['client_credentials'],
	redirect_uris: [],
	response_types: [],
	...c,
}));

// Writes text to file atomically (a temporary file renamed).
function writeAtomic(file, text, mode = 0o644) {
	writeFileSync(`${file}.tmp`, text, { mode });
	renameSync(`${file}.tmp`, file);
}

function writePort(file, port) {
	writeAtomic(file, `${port}\n`);
}

// What the authorization code flow leaves behind once a person consented
// to clientId: a grant of the scopes and its first refresh token, which
// goes to file (0600).
async function mintRefreshToken(provider, { clientId, file }) {
	const client = await provider.Client.find(clientId);
	if (!client || !client.grantTypeAllowed('refresh_token')) {
		throw new Error(`--refresh-token: no client ${clientId} with the refresh_token grant`);
	}
	const accountId = 'tb-test-user';
	const scope = 'read write';
	const grant = new provider.Grant({ accountId, clientId });
	grant.addOIDCScope(scope);
	const grantId = await grant.save();
	const token = new provider.RefreshToken({
		accountId,
		client,
		grantId,
		gty: 'authorization_code',
		scope,
		authTime: Math.floor(Date.now() / 1000),
		expiresWithSession: false,
	});
	writeAtomic(file, `${await token.save()}\n`, 0o600);
}

// RFC 8705 as oidc-provider asks for it: the certificate of the TLS
// connection, whether it chains to CLIENT-CA, and its subject.
function peerCertificate(ctx) {
	const cert = ctx.req.socket.getPeerCertificate ? ctx.req.socket.getPeerCertificate() : null;
	return cert && cert.raw ? cert : null;
}
const mTLS = {
	enabled: Boolean(tlsCert),
	tlsClientAuth: true,
	getCertificate(ctx) {
		const cert = peerCertificate(ctx);
		if (!cert) return undefined;
		const b64 = cert.raw.toString('base64').match(/.{1,64}/g).join('\n');
		return `-----BEGIN CERTIFICATE-----\n${b64}\n-----END CERTIFICATE-----\n`;
	},
	certificateAuthorized(ctx) {
		return Boolean(ctx.req.socket.authorized);
	},
	certificateSubjectMatches(ctx, property, expected) {
		const cert = peerCertificate(ctx);
		return property === 'tls_client_auth_subject_dn' && cert !== null &&
			`CN=${cert.subject.CN}` === expected;
	},
};

const server = createServer();
server.listen(0, '127.0.0.1', () => {
	const { port } = server.address();
	const issuer = `http://127.0.0.1:${port}`;
	const provider = new Provider(issuer, {
		clients,
		// tls_client_auth only with mTLS on: oidc-provider refuses it otherwise
		clientAuthMethods: ['client_secret_basic', 'client_secret_post', 'private_key_jwt',
			'none', ...(tlsCert ? ['tls_client_auth'] : [])],
		features: {
			clientCredentials: { enabled: true },
			introspection: { enabled: true },
			devInteractions: { enabled: false },
			mTLS,
			// RFC 8707: a token for the resource asked for, as its audience
			resourceIndicators: {
				enabled: true,
				defaultResource: () => undefined,
				useGrantedResource: () => true,
				getResourceServerInfo: (ctx, resource) => ({
					scope: 'read write',
					audience: resource,
					accessTokenFormat: 'opaque',
				}),
			},
		},
		// client_credentials needs no user; scopes as the client asks
		scopes: ['read', 'write'],
		cookies: { keys: ['tokenbroker-test-only'] },
		// The accounts behind the minted refresh tokens: any id is one.
		findAccount: (ctx, sub) => ({ accountId: sub, claims: () => ({ sub }) }),
		// Not the default: the refresh_token grant is on without offline_access.
		issueRefreshToken: (ctx, client) => client.grantTypeAllowed('refresh_token'),
		rotateRefreshToken: true,
		ttl: {
			ClientCredentials: 600,
			AccessToken: accessTokenTtl,
			RefreshToken: 24 * 3600,
			Grant: 24 * 3600,
		},
	});
	provider.on('server_error', (ctx, err) => process.stderr.write(`server_error: ${err}\n`));
	provider.on('grant.success', (ctx) => process.stderr.write(
		`grant.success: ${ctx.oidc.params.grant_type} for ${ctx.oidc.client.clientId}\n`));
	// error_detail: what the answer's generic description does not say
	provider.on('grant.error', (ctx, err) => process.stderr.write(
		`grant.error: ${err.error} (${err.error_detail || err.error_description})\n`));
	provider.on('grant.revoked', () => process.stderr.write('grant.revoked: every token of a grant\n'));
	provider.on('refresh_token.consumed', (token) => process.stderr.write(
		`refresh_token.consumed: for ${token.clientId}, rotations before it ${token.rotations || 0}\n`));
	server.on('request', provider.callback());
	if (tlsCert) {
		const tls = createTlsServer({
			cert: readFileSync(tlsCert),
			key: readFileSync(tlsKey),
			ca: readFileSync(clientCa),
			requestCert: true,
			rejectUnauthorized: false, // the provider decides, per client
		}, provider.callback());
		tls.listen(0, '127.0.0.1', () => writePort(tlsPortFile, tls.address().port));
	}
	Promise.all(mints.map((m) => mintRefreshToken(provider, m))).then(() => writePort(portFile, port),
		(err) => {
			process.stderr.write(`${err.message}\n`);
			process.exit(1);
		});
});
process.on('SIGTERM', () => process.exit(0));
