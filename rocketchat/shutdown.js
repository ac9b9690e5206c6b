'use strict'
// Rollouts. Kubernetes sends SIGTERM, waits terminationGracePeriodSeconds, then sends
// SIGKILL. The Helm chart's Deployment sets no grace period
// (rocketchat/templates/chat-deployment.yaml in RocketChat/helm-charts@fa13b713b94a61b0c4a95440f9d22ed457af5734),
// so Kubernetes' default of 30 s applies.
//
// What a Rocket.Chat server does on SIGTERM, as read in the monorepo:
// - Rocket.Chat has no SIGTERM handler of its own. Meteor installs one only to remove
//   its socket file when UNIX_SOCKET_PATH is set (packages/webapp/socket_file.js in
//   meteor/meteor@024061123a49ff1d4b89d69453ec9263ef8599e1).
// - The monolith's InstanceService creates a Moleculer ServiceBroker
//   (apps/meteor/ee/server/local-services/instance/service.ts@b7bda1847edd5d514581269486c690fff1ec9bce)
//   without skipProcessEventRegistration. On SIGTERM and SIGINT that broker stops
//   itself, then calls process.exit(0) (src/service-broker.js of moleculer v0.14.35,
//   6e151319f6af922d7197c4bcaa5b2625202db016). The NATS broker of
//   ee/packages/network-broker does the same.
//
// So the host usually ends the process itself, moments after the signal. The
// addon's 'exit' hook then keeps delivering, and a close() already under way keeps its
// deadline. A process with no other listener would otherwise not end at all: a
// listener replaces Node's default, which ends the process. There, once the
// controller is closed, the signal is raised again with Node's default disposition,
// so the process ends as it would have without us (killed by the signal).

/**
 * The grace period, below Kubernetes' default of 30 s. At its deadline the close gives
 * up what is left (in the spool, or reported by id) and waits 200 ms more for answers
 * in flight; the process then ends within moments, so about 2.5 s remain before
 * SIGKILL. On one FIFO message group requests go one at a time: at 450 ms a request
 * (SNS 300 ms slower than usual, as __test__/instances.test.js has it) that is 600
 * events.
 */
const DEFAULT_GRACE_MS = 27_000

/** The signals Node ends a process on by default, and that rollouts and Ctrl-C send. */
const SIGNALS = ['SIGTERM', 'SIGINT']

/**
 * Closes `controller` (bindSettings') when the process is asked to stop: everything held
 * is delivered within `graceMs`; the rest stays in the spool for another instance to
 * adopt, or is reported by id through `onError`. It never ends the process early, and
 * it never takes the host's own shutdown away: with another listener for the signal
 * (Rocket.Chat's broker, or a handler of the host's), ending the process is left to
 * that listener. Without one, the signal is raised again after the close, so the
 * process ends as Node's default would have ended it. Returns a function that
 * removes the listeners.
 */
function handleShutdown(controller, { graceMs = DEFAULT_GRACE_MS, signals = SIGNALS, onError } = {}) {
  if (!controller || typeof controller.close !== 'function') {
    throw new TypeError('handleShutdown: controller must be what bindSettings returns (it has close())')
  }
  if (!Number.isInteger(graceMs) || graceMs <= 0) {
    throw new RangeError(`handleShutdown: graceMs must be a positive whole number of milliseconds, got ${graceMs}`)
  }
  const report = onError || ((e) => console.warn(`[rocketchat-sns-analytics] ${e.code || 'error'}: ${e.message}`))
  let closing = null
  const listeners = new Map()
  const remove = () => {
    for (const [signal, listener] of listeners) process.removeListener(signal, listener)
    listeners.clear()
  }
  for (const signal of signals) {
    const listener = () => {
      if (!closing) {
        // The event loop may have nothing else to do: keep it turning until the
        // close is done, so that the signal can be raised again.
        const keepAlive = setInterval(() => {}, 1 << 30)
        // Called in this turn: a host listener after ours may exit at once.
        let closed
        try {
          closed = Promise.resolve(controller.close({ timeoutMs: graceMs }))
        } catch (e) {
          closed = Promise.reject(e)
        }
        closing = closed.catch(report).finally(() => clearInterval(keepAlive))
      }
      closing.then(() => {
        if (process.listenerCount(signal) > 1) return
        remove()
        process.kill(process.pid, signal)
      })
    }
    listeners.set(signal, listener)
    // First, so that the close (and its deadline, which the 'exit' hook keeps) has
    // started before a host's listener that exits at once runs.
    process.prependListener(signal, listener)
  }
  return remove
}

module.exports = { handleShutdown, DEFAULT_GRACE_MS }
