// The @modelcontextprotocol/sdk client (Streamable HTTP transport) against
// <url> with the bearer token in $MT_TOKEN (not argv): connects, lists the
// tools, calls allowed and forbidden tools, reads resources, gets prompts.
// Prints one JSON object, step => {ok, value} or {ok: false, error}.
//
//   MT_TOKEN=... node mcp_client.mjs <url>

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from
    '@modelcontextprotocol/sdk/client/streamableHttp.js';

const [url] = process.argv.slice(2);

const transport = new StreamableHTTPClientTransport(new URL(url), {
    requestInit: {
        headers: { Authorization: `Bearer ${process.env.MT_TOKEN}` },
    },
});
const client = new Client({ name: 'magic-token-test-client', version: '1.0.0' });
const out = {};

async function step(name, fn) {
    try {
        out[name] = { ok: true, value: await fn() };
    } catch (e) {
        out[name] = { ok: false, error: String(e && e.message ? e.message : e) };
    }
}

async function tool(name, args) {
    const r = await client.callTool({ name, arguments: args });
    return r.content[0].text;
}

async function resource(uri) {
    return (await client.readResource({ uri })).contents[0].text;
}

async function prompt(name) {
    const r = await client.getPrompt({ name, arguments: { pr: '1' } });
    return r.messages[0].content.text;
}

await step('connect', async () => {
    await client.connect(transport);
    return 'connected';
});

if (out.connect.ok) {
    await step('tools', async () =>
        (await client.listTools()).tools.map((t) => t.name).sort());
    await step('get_issue', () => tool('get_issue', { number: 7 }));
    await step('list_issues', () => tool('list_issues', {}));
    await step('delete_repository',
               () => tool('delete_repository', { repo: 'acme/x' }));
    await step('readme', () => resource('repo://acme/readme'));
    await step('secrets', () => resource('repo://vault/secrets'));
    await step('review', () => prompt('review'));
    await step('exfiltrate', () => prompt('exfiltrate'));
    await step('ping', async () => {
        await client.ping();
        return 'pong';
    });
}

await client.close().catch(() => {});

console.log(JSON.stringify(out));
