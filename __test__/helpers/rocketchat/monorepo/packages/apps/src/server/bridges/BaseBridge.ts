// packages/apps/src/server/bridges/BaseBridge.ts@3b36fe4b3231e093c0a3d2253db989c4d58998f1 (unchanged):
// the same empty abstract class @rocket.chat/apps-engine@1.62.0 ships, re-exported from it.
export { BaseBridge } from 'apps-engine-1.62/server/bridges/BaseBridge';
