/**
 * The API's Prometheus metrics, served by main.ts on API_METRICS_HOST:API_METRICS_PORT
 * (never the public port): GraphQL requests by operation name, errors by code, and the
 * index's progress against the chain read at scrape time (the index's `_metadata` and
 * eth_blockNumber, as /health reads them).
 */
import { getOperationAST, type ExecutionResult, type GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { boundedLabel, context, contextFrom, Counter, createRegistry, DURATION_BUCKETS, Gauge, Histogram, REQUEST_ID_ATTRIBUTE, SpanKind, trace, type Context, type Registry, type Span } from '@descrow/common';
import type { IndexReader } from './data/indexReader';
import { chainHead } from './health';

const tracer = trace.getTracer('descrow-api');

interface RequestState { start: number; operation: string | null; span: Span; context: Context }

export class ApiMetrics {
  readonly registry: Registry = createRegistry('api');
  readonly requests: Histogram<'operation' | 'status'>;
  readonly errors: Counter<'code'>;
  /** Operation names come from clients: at most 200 distinct ones are kept as labels. */
  private readonly operationLabel = boundedLabel(200);
  private readonly state = new WeakMap<Request, RequestState>();

  constructor(index: IndexReader, rpcUrl: string) {
    const registers = [this.registry];
    this.requests = new Histogram({
      name: 'descrow_api_graphql_request_duration_seconds', help: 'GraphQL HTTP requests by operation name (anonymous, or none when refused before parsing) and HTTP status',
      labelNames: ['operation', 'status'], buckets: DURATION_BUCKETS, registers,
    });
    this.errors = new Counter({ name: 'descrow_api_graphql_errors_total', help: 'GraphQL errors returned to clients, by extensions.code', labelNames: ['code'], registers });

    // The index against the chain, read once per scrape by the first of the three gauges.
    let reading: { at: number; value: Promise<{ index: number | null; chain: number | null }> } | null = null;
    const read = () => {
      if (reading && Date.now() - reading.at < 1_000) return reading.value;
      // The database read gets a deadline here; chainHead has its own (2 s).
      const timeout = <T>(p: Promise<T>) => Promise.race([p, new Promise<never>((_, rej) => setTimeout(() => rej(new Error('timeout')), 2_000).unref())]);
      const value = Promise.all([
        timeout(index.metadata()).then((m) => (m.lastProcessedHeight >= 0 ? m.lastProcessedHeight : null), () => null),
        chainHead(rpcUrl).catch(() => null),
      ]).then(([i, c]) => ({ index: i, chain: c }));
      reading = { at: Date.now(), value };
      return value;
    };
    const gauge = (name: string, help: string, pick: (r: { index: number | null; chain: number | null }) => number | null) =>
      new Gauge({
        name, help, registers,
        async collect() {
          this.reset();
          this.remove(); // unknown this scrape: absent, not 0
          const v = pick(await read());
          if (v !== null) this.set(v);
        },
      });
    gauge('descrow_index_height', "The last block the index processed (its _metadata.lastProcessedHeight); absent while unreadable", (r) => r.index);
    gauge('descrow_chain_height', 'The chain head (eth_blockNumber at RPC_URL); absent while the RPC does not answer', (r) => r.chain);
    gauge('descrow_index_lag_blocks', 'Blocks the index is behind the chain head; absent while either is unknown', (r) => (r.index !== null && r.chain !== null ? Math.max(0, r.chain - r.index) : null));
    gauge('descrow_chain_up', '1 if the RPC answered eth_blockNumber this scrape, else 0', (r) => (r.chain === null ? 0 : 1));
  }

  /** The OpenTelemetry context of a request (its server span), for calls made on its behalf. */
  contextOf(request: Request): Context | undefined {
    return this.state.get(request)?.context;
  }

  /** Count a refusal made before GraphQL runs (rate limit, body too large). */
  refused(code: string): void {
    this.errors.inc({ code });
  }

  /**
   * A Yoga plugin: a server span per request continuing the caller's traceparent, and on the
   * response its duration by operation and its errors by code. `requestId` names the request.
   */
  plugin(requestId: (request: Request) => string | undefined): Plugin {
    return {
      onRequest: ({ request, url }) => {
        if (url.pathname !== '/graphql') return;
        const parent = contextFrom(Object.fromEntries(request.headers), context.active());
        const span = tracer.startSpan('POST /graphql', { kind: SpanKind.SERVER, attributes: { 'http.request.method': request.method, 'http.route': '/graphql' } }, parent);
        this.state.set(request, { start: performance.now(), operation: null, span, context: trace.setSpan(parent, span) });
      },
      onParams: ({ request, params }) => {
        const s = this.state.get(request);
        // Before parsing (a request that fails validation never executes): the name the client
        // gave, else the document's first operation name; onExecute corrects it when it runs.
        if (s) s.operation = params.operationName ?? /^\s*(?:query|mutation|subscription)\s+([A-Za-z_]\w*)/.exec(params.query ?? '')?.[1] ?? s.operation;
      },
      onExecute: ({ args }) => {
        const request = (args.contextValue as { request?: Request }).request;
        const s = request && this.state.get(request);
        if (s) s.operation = getOperationAST(args.document, args.operationName)?.name?.value ?? 'anonymous';
      },
      onResultProcess: ({ request, result }) => {
        const s = this.state.get(request);
        const results = (Array.isArray(result) ? result : [result]) as ExecutionResult[];
        for (const r of results) for (const e of (r?.errors ?? []) as GraphQLError[]) this.errors.inc({ code: String(e.extensions?.code ?? 'INTERNAL_SERVER_ERROR') });
        if (s && !s.operation) s.operation = 'anonymous';
      },
      onResponse: ({ request, response }) => {
        const s = this.state.get(request);
        if (!s) return;
        const operation = this.operationLabel(s.operation, 'none');
        this.requests.observe({ operation, status: String(response.status) }, (performance.now() - s.start) / 1000);
        const id = requestId(request);
        if (id) s.span.setAttribute(REQUEST_ID_ATTRIBUTE, id);
        s.span.updateName(`graphql ${operation}`);
        s.span.setAttribute('graphql.operation.name', operation);
        s.span.setAttribute('http.response.status_code', response.status);
        s.span.end();
      },
    };
  }
}
