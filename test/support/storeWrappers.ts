/**
 * A Store that forwards every call to another one, with some methods replaced, so that tests and the
 * bench can make a store fail or record what happened without knowing which implementation sits
 * underneath. Every method is listed, so a method added to Store fails to compile here until forwarded.
 */
import type { Claim, Store } from "../../lib/store/store.ts";

export type StoreOverrides = Partial<Omit<Store, "durable">>;

/**
 * `inner` with some methods replaced; the replacements may call `inner` themselves. The forwarding
 * functions are made once here, not per call (the bench calls them on its hot path).
 */
export function wrapStore(inner: Store, overrides: StoreOverrides): Store {
  // Optional in Store: forwarded only where the inner store (or the override) has it.
  const recoverExpired = overrides.recoverExpired ?? (inner.recoverExpired ? () => inner.recoverExpired!() : undefined);
  return {
    get durable() {
      return inner.durable;
    },
    createPipeline: overrides.createPipeline ?? ((input) => inner.createPipeline(input)),
    createPipelineOnce: overrides.createPipelineOnce ?? ((input, key) => inner.createPipelineOnce(input, key)),
    getPipeline: overrides.getPipeline ?? ((id) => inner.getPipeline(id)),
    listPipelines: overrides.listPipelines ?? ((opts) => inner.listPipelines(opts)),
    updatePipeline: overrides.updatePipeline ?? ((id, input) => inner.updatePipeline(id, input)),
    deletePipeline: overrides.deletePipeline ?? ((id) => inner.deletePipeline(id)),
    triggerRun: overrides.triggerRun ?? ((pipelineId, gitRef, env) => inner.triggerRun(pipelineId, gitRef, env)),
    triggerRunOnce: overrides.triggerRunOnce ?? ((pipelineId, gitRef, key, env) => inner.triggerRunOnce(pipelineId, gitRef, key, env)),
    rerunRun: overrides.rerunRun ?? ((id) => inner.rerunRun(id)),
    cancelRun: overrides.cancelRun ?? ((id, reason) => inner.cancelRun(id, reason)),
    getRun: overrides.getRun ?? ((id) => inner.getRun(id)),
    listRuns: overrides.listRuns ?? ((filter) => inner.listRuns(filter)),
    getLogs: overrides.getLogs ?? ((runId, after, limit) => inner.getLogs(runId, after, limit)),
    onRunChange: overrides.onRunChange ?? ((runId, listener) => inner.onRunChange(runId, listener)),
    claimRun: overrides.claimRun ?? ((workerId) => inner.claimRun(workerId)),
    updateStage: overrides.updateStage ?? ((claim, index, patch) => inner.updateStage(claim, index, patch)),
    finishRun: overrides.finishRun ?? ((claim, status, error, last) => inner.finishRun(claim, status, error, last)),
    releaseRun: overrides.releaseRun ?? ((claim, reason) => inner.releaseRun(claim, reason)),
    watchClaim: overrides.watchClaim ?? ((claim, onLost, onCancel) => inner.watchClaim(claim, onLost, onCancel)),
    onClaimable: overrides.onClaimable ?? ((listener) => inner.onClaimable(listener)),
    cancelQueued: overrides.cancelQueued ?? ((reason) => inner.cancelQueued(reason)),
    close: overrides.close ?? (() => inner.close()),
    ...(recoverExpired ? { recoverExpired } : {}),
  };
}

/** A store whose claimRun throws (as an unreachable database would) for the first `failures` calls. */
export function failingClaims(inner: Store, failures: number): Store & { readonly attempts: number } {
  let attempts = 0;
  const store = wrapStore(inner, {
    claimRun: async (workerId): Promise<Claim | undefined> => {
      attempts++;
      if (attempts <= failures) throw new Error(`connection refused (attempt ${attempts})`);
      return inner.claimRun(workerId);
    },
  });
  return Object.defineProperty(store, "attempts", { get: () => attempts }) as Store & { readonly attempts: number };
}
