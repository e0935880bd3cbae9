// An MCP server built with @modelcontextprotocol/sdk, Streamable HTTP
// transport (stateless), on 127.0.0.1:<port>, for t/048-mcp-sdk.t.  It
// appends one JSON line per HTTP request (method, Authorization) and per
// tool, resource or prompt it serves to <log>, so that the test can tell
// what reached it.  "ready" on stdout once listening.
//
//   node mcp_server.mjs <port> <log>

import fs from 'node:fs';
import http from 'node:http';

import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from
    '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { z } from 'zod';

const [port, log] = process.argv.slice(2);

function note(what) {
    fs.appendFileSync(log, JSON.stringify(what) + '\n');
}

function text(t) {
    return { content: [{ type: 'text', text: t }] };
}

function makeServer() {
    const s = new McpServer({ name: 'magic-token-test', version: '1.0.0' });

    s.registerTool('get_issue', {
        description: 'Get an issue',
        inputSchema: { number: z.number() },
    }, async ({ number }) => {
        note({ tool: 'get_issue' });
        return text(`issue ${number}`);
    });

    s.registerTool('list_issues', {
        description: 'List issues',
        inputSchema: {},
    }, async () => {
        note({ tool: 'list_issues' });
        return text('1 2 3');
    });

    s.registerTool('delete_repository', {
        description: 'Delete a repository',
        inputSchema: { repo: z.string() },
    }, async ({ repo }) => {
        note({ tool: 'delete_repository' });
        return text(`deleted ${repo}`);
    });

    for (const [name, uri] of [['readme', 'repo://acme/readme'],
                               ['secrets', 'repo://vault/secrets']]) {
        s.registerResource(name, uri, { mimeType: 'text/plain' },
            async (u) => {
                note({ resource: u.href });
                return { contents: [{ uri: u.href, text: `${name} text` }] };
            });
    }

    for (const name of ['review', 'exfiltrate']) {
        s.registerPrompt(name, {
            description: name,
            argsSchema: { pr: z.string() },
        }, ({ pr }) => {
            note({ prompt: name });
            return {
                messages: [{ role: 'user',
                             content: { type: 'text', text: `${name} ${pr}` } }],
            };
        });
    }

    return s;
}

http.createServer(async (req, res) => {
    note({ method: req.method, authorization: req.headers.authorization ?? null });

    if (req.method !== 'POST') {
        res.writeHead(405, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ jsonrpc: '2.0', id: null,
            error: { code: -32000, message: 'Method not allowed.' } }));
        return;
    }

    const server = makeServer();
    const transport = new StreamableHTTPServerTransport({
        sessionIdGenerator: undefined,
    });

    res.on('close', () => {
        transport.close();
        server.close();
    });

    try {
        await server.connect(transport);
        await transport.handleRequest(req, res);
    } catch (e) {
        note({ error: String(e) });
        if (!res.headersSent) {
            res.writeHead(500).end();
        }
    }
}).listen(Number(port), '127.0.0.1', () => {
    console.log('ready');
});
