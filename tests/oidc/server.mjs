// A real authorization server for tokenbroker's integration tests:
// oidc-provider (the certified OpenID Connect server for Node.js) on
// 127.0.0.1, with the client credentials grant and token introspection on.
//
// usage: node server.mjs CLIENTS.json PORT-FILE
//
// CLIENTS.json is an array of oidc-provider client metadata (client_id,
// token_endpoint_auth_method, jwks or client_secret, ...); every client
// gets grant_types ["client_credentials"] and no redirect URIs unless it
// says otherwise.  The port, picked by the kernel, is written to PORT-FILE
// (atomically: a temporary file renamed) once the server listens; the
// issuer is http://127.0.0.1:PORT.  Tokens are opaque and introspectable at
// /token/introspection by any of the clients.  SIGTERM ends it.
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import Provider from 'oidc-provider';

const [clientsFile, portFile] = process.argv.slice(2);
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

const server = createServer();
server.listen(0, '127.0.0.1', () => {
	const { port } = server.address();
	const issuer = `http://127.0.0.1:${port}`;
	const provider = new Provider(issuer, {
		clients,
		features: {
			clientCredentials: { enabled: true },
			introspection: { enabled: true },
			devInteractions: { enabled: false },
		},
		// client_credentials needs no user; scopes as the client asks
		scopes: ['read', 'write'],
		cookies: { keys: ['tokenbroker-test-only'] },
		ttl: { ClientCredentials: 600 },
	});
	provider.on('server_error', (ctx, err) => process.stderr.write(`server_error: ${err}\n`));
	server.on('request', provider.callback());
	writeFileSync(`${portFile}.tmp`, `${port}\n`);
	renameSync(`${portFile}.tmp`, portFile);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
