// A real authorization server for tokenbroker's integration tests:
// oidc-provider (the certified OpenID Connect server for Node.js) on
// 127.0.0.1, with the client credentials grant and token introspection on.
//
// usage: node server.mjs CLIENTS.json PORT-FILE
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
// whose subject is CN=NAME (RFC 8705).  SIGTERM ends it.
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import Provider from 'oidc-provider';

const [clientsFile, portFile, tlsCert, tlsKey, clientCa, tlsPortFile] = process.argv.slice(2);
if (!clientsFile || !portFile) {
	process.stderr.write('usage: node server.mjs CLIENTS.json PORT-FILE\n');
	process.exit(2);
}
const clients = JSON.parse(readFileSync(clientsFile, 'utf8')).map((c) => ({
	grant_types: ['client_credentials'],
	redirect_uris: [],
	response_types: [],
	...c,
}));

function writePort(file, port) {
	writeFileSync(`${file}.tmp`, `${port}\n`);
	renameSync(`${file}.tmp`, file);
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
		ttl: { ClientCredentials: 600 },
	});
	provider.on('server_error', (ctx, err) => process.stderr.write(`server_error: ${err}\n`));
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
	writePort(portFile, port);
});
process.on('SIGTERM', () => process.exit(0));
