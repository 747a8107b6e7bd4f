// Registration and login over the real REST API.
let counter = 0;

/** A username unique within this run. */
export function uniqueName(prefix = 'p'): string {
  counter += 1;
  return `${prefix}${process.pid % 10000}_${counter}`;
}

export async function post(baseUrl: string, path: string, body: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const response = await fetch(new URL(path, baseUrl), {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: response.status, json: (await response.json()) as Record<string, unknown> };
}

export async function registerPlayer(baseUrl: string, username = uniqueName(), password = 'ash-and-embers'): Promise<{ token: string; id: number; username: string; password: string }> {
  const { status, json } = await post(baseUrl, '/api/auth/register', { username, password });
  if (status !== 201) throw new Error(`register failed (${status}): ${JSON.stringify(json)}`);
  const character = json.character as { id: number };
  return { token: String(json.token), id: character.id, username, password };
}

/** A POST to an operator route (/api/admin/...) with the admin bearer token. */
export async function adminPost(baseUrl: string, token: string, path: string, body: unknown): Promise<{ status: number; json: unknown }> {
  const response = await fetch(new URL(path, baseUrl), {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify(body),
  });
  return { status: response.status, json: await response.json() };
}
