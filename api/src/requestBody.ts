/**
 * POST bodies are read as a stream and counted as they arrive: past API_BODY_LIMIT the read
 * stops and the request is refused with 413, whether or not it declared a length (a chunked
 * body used to be read whole first). Only JSON is accepted: uploads travel base64 in JSON.
 */
import { GraphQLError } from 'graphql';
import type { GraphQLParams } from 'graphql-yoga';

const refuse = (status: number, message: string): never => {
  throw new GraphQLError(message, { extensions: { code: 'BAD_USER_INPUT', http: { status } } });
};

export async function parseJsonBodyWithin(request: Request, limit: number): Promise<GraphQLParams | GraphQLParams[]> {
  const type = (request.headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/json' && type !== 'application/graphql-response+json') refuse(415, 'send the request as application/json');
  const reader = request.body?.getReader();
  if (!reader) return refuse(400, 'the request has no body');
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel().catch(() => undefined);
      refuse(413, `request body larger than ${limit} bytes`);
    }
    chunks.push(value);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    return refuse(400, 'the request body is not valid JSON');
  }
  if (parsed === null || typeof parsed !== 'object') refuse(400, 'expected a JSON object with a query');
  return parsed as GraphQLParams | GraphQLParams[];
}
