/**
 * OpenTelemetry tracing. Every service registers a tracer provider at start so spans get
 * real ids and W3C `traceparent` headers travel between the API, the oracle and Daraja;
 * spans leave the process only when OTEL_EXPORTER_OTLP_ENDPOINT is set (OTLP over HTTP).
 */
import { context, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Context, type Span, type Tracer } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';

export { context, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Context, type Span, type Tracer };

/** The attribute that carries our request id (the x-request-id header) on every span. */
export const REQUEST_ID_ATTRIBUTE = 'descrow.request_id';

export interface Tracing {
  provider: NodeTracerProvider;
  /** Flush what is buffered and unregister (tests start tracing more than once per process). */
  shutdown(): Promise<void>;
}

let current: Tracing | undefined;

/**
 * Once per process (a second call returns the first). `endpoint` is OTLP's base URL
 * (traces go to `<endpoint>/v1/traces`); without it no exporter runs. Tests add processors.
 */
export function startTracing(service: string, opts: { endpoint?: string; processors?: SpanProcessor[] } = {}): Tracing {
  if (current) return current;
  const processors = [...(opts.processors ?? [])];
  if (opts.endpoint) processors.push(new BatchSpanProcessor(new OTLPTraceExporter({ url: `${opts.endpoint.replace(/\/$/, '')}/v1/traces` })));
  const provider = new NodeTracerProvider({ resource: resourceFromAttributes({ 'service.name': service }), spanProcessors: processors });
  // Global tracer provider, AsyncLocalStorage context manager, W3C trace-context propagator.
  provider.register();
  const tracing: Tracing = {
    provider,
    async shutdown() {
      await provider.shutdown().catch(() => undefined);
      trace.disable();
      context.disable();
      propagation.disable();
      if (current === tracing) current = undefined;
    },
  };
  current = tracing;
  return tracing;
}

/** Headers carrying the given (default: active) context, for an outgoing HTTP call. */
export function traceHeaders(ctx: Context = context.active()): Record<string, string> {
  const carrier: Record<string, string> = {};
  propagation.inject(ctx, carrier);
  return carrier;
}

/** The context an incoming request's headers (or a stored carrier) describe. */
export function contextFrom(carrier: Record<string, unknown> | undefined | null, base: Context = context.active()): Context {
  if (!carrier) return base;
  return propagation.extract(base, carrier, {
    get: (c, k) => {
      const v = c[k] ?? c[k.toLowerCase()];
      return typeof v === 'string' ? v : Array.isArray(v) ? (v as string[]) : undefined;
    },
    keys: (c) => Object.keys(c),
  });
}

/** Run `fn` in a new active span; the span ends (with an error status on a throw) when `fn` settles. */
export async function inSpan<T>(tracer: Tracer, name: string, attributes: Record<string, string | number | undefined>, fn: (span: Span) => Promise<T>, kind: SpanKind = SpanKind.INTERNAL, parent?: Context): Promise<T> {
  const clean = Object.fromEntries(Object.entries(attributes).filter(([, v]) => v !== undefined)) as Record<string, string | number>;
  return tracer.startActiveSpan(name, { kind, attributes: clean }, parent ?? context.active(), async (span) => {
    try {
      return await fn(span);
    } catch (err) {
      span.recordException(err as Error);
      span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message?.split('\n')[0] });
      throw err;
    } finally {
      span.end();
    }
  });
}
