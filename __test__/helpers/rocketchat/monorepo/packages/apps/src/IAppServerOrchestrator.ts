// packages/apps/src/IAppServerOrchestrator.ts@c999f0af1cb60c46b985f0526ab5dbfdf8c9f22c (unchanged):
// its members, with the types this stand-in does not model as `unknown`. The Meteor bridges use
// `debugLog` (e.g. apps/meteor/app/apps/server/bridges/mediaCalls.ts@1e8589c1a98169889b9059112724b574184d098e).
import type { Logger } from '@rocket.chat/logger';
import type { AppManager } from 'apps-engine-1.62/server/AppManager';

export interface IAppServerOrchestrator {
	initialize(): void;
	getNotifier(): unknown;
	isDebugging(): boolean;
	debugLog(...args: any[]): void;
	getManager(): AppManager;
	getConverters(): unknown;
	getPersistenceModel(): unknown;
	getRocketChatLogger(): Logger;
}
