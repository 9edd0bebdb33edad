import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { AuthEvent } from '../core/events.ts';
import type { StoreObserver } from '../stores/instrumented-stores.ts';

/** Tokenstile's Prometheus metrics, in a registry of their own (not prom-client's global one). */
export class Metrics {
  readonly registry = new Registry();
  readonly #requests = new Counter({ name: 'tokenstile_http_requests_total', help: 'HTTP requests by route and status', labelNames: ['method', 'route', 'status'], registers: [this.registry] });
  readonly #duration = new Histogram({ name: 'tokenstile_http_request_duration_seconds', help: 'HTTP request duration', labelNames: ['route'], buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1], registers: [this.registry] });
  readonly #logins = new Counter({ name: 'tokenstile_logins_total', help: 'Sign-in attempts by outcome', labelNames: ['outcome'], registers: [this.registry] });
  readonly #refreshes = new Counter({ name: 'tokenstile_refreshes_total', help: 'Refresh attempts by outcome', labelNames: ['outcome'], registers: [this.registry] });
  readonly #reuse = new Counter({ name: 'tokenstile_refresh_reuse_detected_total', help: 'Spent refresh tokens presented again (sessions revoked for theft)', registers: [this.registry] });
  readonly #revoked = new Counter({ name: 'tokenstile_sessions_revoked_total', help: 'Sessions ended by this instance', registers: [this.registry] });
  readonly #dpopRefused = new Counter({ name: 'tokenstile_dpop_proofs_refused_total', help: 'DPoP proofs refused, at sign-in/refresh or on protected requests, by code', labelNames: ['where', 'code'], registers: [this.registry] });
  readonly #limited = new Counter({ name: 'tokenstile_rate_limited_total', help: 'Attempts refused by a rate limit', labelNames: ['rule'], registers: [this.registry] });
  readonly #feedLag = new Histogram({ name: 'tokenstile_revocation_feed_lag_seconds', help: 'Time from a revocation to its arrival here through the feed', buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5], registers: [this.registry] });
  readonly #confirm = new Histogram({ name: 'tokenstile_revocation_confirm_seconds', help: 'Time from a revocation\'s commit until no instance can accept its tokens (every live instance acknowledged, or its lease ran out): what it adds to a logout', buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 1.5, 2, 5], registers: [this.registry] });
  readonly #mails = new Counter({ name: 'tokenstile_mail_total', help: 'Account mails by kind and outcome: queued, sent, retry (an attempt failed), failed (given up)', labelNames: ['kind', 'outcome'], registers: [this.registry] });
  readonly #mailSend = new Histogram({ name: 'tokenstile_mail_send_seconds', help: 'Time one SMTP delivery took', buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers: [this.registry] });
  readonly #ssfSent = new Counter({ name: 'tokenstile_ssf_sent_sets_total', help: 'Shared Signals SETs this transmitter sent, by outcome: stored (in a stream\'s outbox), delivered (202 to a push), acknowledged (by a poll), failed (a push attempt; retried), refused (setErrs of a poll), dropped (backlog cap), expired (lifetime)', labelNames: ['outcome'], registers: [this.registry] });
  readonly #ssfSentDelivery = new Histogram({ name: 'tokenstile_ssf_delivery_seconds', help: 'Time from a SET\'s storing (the revocation or change that made it) to the receiver\'s 202', buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 30, 300], registers: [this.registry] });
  readonly #ssfSets = new Counter({ name: 'tokenstile_ssf_received_sets_total', help: 'Security Event Tokens received from Shared Signals transmitters, by receiver and outcome: applied (sessions ended), ignored (replayed, or nothing matched), or why refused', labelNames: ['receiver', 'outcome'], registers: [this.registry] });
  readonly #feedHealthy: Gauge;
  readonly #storeChecks = new Counter({ name: 'tokenstile_degraded_store_checks_total', help: 'Per-request store checks made while the feed was unhealthy', labelNames: ['outcome'], registers: [this.registry] });
  readonly #storeLatency = new Histogram({ name: 'tokenstile_store_operation_seconds', help: 'Store operation latency', labelNames: ['operation', 'ok'], buckets: [0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1], registers: [this.registry] });

  constructor(revocationCount: () => number, degraded: () => boolean) {
    // Read when scraped: an instance degraded from its start sends no event to say so.
    this.#feedHealthy = new Gauge({ name: 'tokenstile_revocation_feed_healthy', help: '1 while revocations are trusted from memory (store and feed leases current, caught up), 0 while the store is asked per request', registers: [this.registry], collect() { this.set(degraded() ? 0 : 1); } });
    new Gauge({ name: 'tokenstile_revocation_list_entries', help: 'Live entries in the in-memory revocation list', registers: [this.registry], collect() { this.set(revocationCount()); } });
  }

  /** The core's event listener. */
  readonly onEvent = (e: AuthEvent): void => {
    switch (e.type) {
      case 'login_succeeded': this.#logins.inc({ outcome: 'ok' }); break;
      case 'login_failed': this.#logins.inc({ outcome: e.reason }); break;
      case 'refreshed': this.#refreshes.inc({ outcome: 'ok' }); break;
      case 'refresh_failed': this.#refreshes.inc({ outcome: e.reason }); break;
      case 'refresh_reuse_detected': this.#reuse.inc(); this.#refreshes.inc({ outcome: 'refresh_token_reused' }); break;
      case 'session_revoked': this.#revoked.inc(); break;
      case 'rate_limited': this.#limited.inc({ rule: e.rule }); break;
      case 'dpop_proof_refused': this.#dpopRefused.inc({ where: e.where, code: e.code }); break;
      case 'revocations_received': this.#feedLag.observe(e.lagMs / 1000); break;
      case 'revocation_confirmed': this.#confirm.observe(e.ms / 1000); break;
      case 'store_check': this.#storeChecks.inc({ outcome: e.outcome }); break;
      case 'mail.queued': this.#mails.inc({ kind: String(e.kind), outcome: 'queued' }); break;
      case 'mail.sent': this.#mails.inc({ kind: String(e.kind), outcome: 'sent' }); this.#mailSend.observe(Number(e.seconds)); break;
      case 'ssf-receiver.set_applied': this.#ssfSets.inc({ receiver: String(e.receiver), outcome: 'applied' }); break;
      case 'ssf-receiver.set_ignored': this.#ssfSets.inc({ receiver: String(e.receiver), outcome: e.reason === 'replayed' ? 'replayed' : 'ignored' }); break;
      case 'ssf-receiver.set_refused': this.#ssfSets.inc({ receiver: String(e.receiver), outcome: String(e.reason) }); break;
      case 'mail.failed': this.#mails.inc({ kind: String(e.kind), outcome: e.final === true ? 'failed' : 'retry' }); break;
      case 'ssf.stored': this.#ssfSent.inc({ outcome: 'stored' }, Number(e.count)); break;
      case 'ssf.delivered': this.#ssfSent.inc({ outcome: 'delivered' }); this.#ssfSentDelivery.observe(Number(e.ms) / 1000); break;
      case 'ssf.acknowledged': this.#ssfSent.inc({ outcome: 'acknowledged' }, Number(e.count)); break;
      case 'ssf.delivery_failed': this.#ssfSent.inc({ outcome: 'failed' }); break;
      case 'ssf.set_error': this.#ssfSent.inc({ outcome: 'refused' }); break;
      case 'ssf.sets_dropped': this.#ssfSent.inc({ outcome: 'dropped' }, Number(e.count)); break;
      case 'ssf.sets_expired': this.#ssfSent.inc({ outcome: 'expired' }, Number(e.count)); break;
      default: break;
    }
  };

  /** The stores' observer. */
  readonly onStoreOperation: StoreObserver = (operation, seconds, ok) => {
    this.#storeLatency.observe({ operation, ok: ok ? 'true' : 'false' }, seconds);
  };

  /** Counts and times one answered request, labelled by route pattern (never by raw URL). */
  observeRequest(method: string, route: string, status: number, seconds: number): void {
    this.#requests.inc({ method, route, status: String(status) });
    this.#duration.observe({ route }, seconds);
  }
}
