// packages/apps/src/index.ts@b036c9666618b959a55edfe704ff342c3e279e6b (unchanged), reduced to
// what the Meteor bridge imports from '@rocket.chat/apps': the orchestrator's type.
export type * from './IAppServerOrchestrator';
