// A Rocket.Chat App that logs its hand-overs to a live agent through the proposed Apps-Engine
// analytics accessor: Escalation/attempted when a visitor asks for a person, and
// Escalation/failed with a failure_reason of plans/rocketchat-livechat.yaml when it cannot hand
// the visitor over.
//
// The Apps-Engine interfaces used, by path in the @rocket.chat/apps-engine@1.66.0 npm package:
//   definition/App.d.ts                         App (the base class; constructor(info, logger, accessors))
//   definition/messages/IPostMessageSent.d.ts   IPostMessageSent (checkPostMessageSent, executePostMessageSent)
//   definition/messages/IMessage.d.ts           IMessage
//   definition/livechat/ILivechatRoom.d.ts      ILivechatRoom, isLivechatRoom
//   definition/accessors/ILivechatRead.d.ts     isOnlineAsync(departmentId?)       (permission livechat-status.read)
//   definition/accessors/ILivechatUpdater.d.ts  transferVisitor(visitor, data)    (permission livechat-visitor.write)
//   definition/accessors/IModify.d.ts           IModify, plus the proposed getAnalyticsModifier():
//     rocketchat/upstream/packages/apps-engine/src/definition/accessors/IAnalyticsModify.ts
//     (IAnalyticsModify.logEvent(event): Promise<string | undefined>; permission analytics.write)
// The hand-over follows performHandover of the Dialogflow App (lib/Room.ts in
// RocketChat/Apps.Dialogflow@5bb3e2266b236a065205022d482dd2988204b55e): agents online first,
// then transferVisitor, either answering false as a failure.
//
// The imports are those of an App once the pull request in rocketchat/upstream/ is released;
// tsconfig.json resolves them to 1.66.0 with the pull request's definitions laid over it.
import type { IAppAccessors, IHttp, ILogger, IModify, IPersistence, IRead } from '@rocket.chat/apps-engine/definition/accessors';
import { App } from '@rocket.chat/apps-engine/definition/App';
import { isLivechatRoom } from '@rocket.chat/apps-engine/definition/livechat/ILivechatRoom';
import type { IMessage, IPostMessageSent } from '@rocket.chat/apps-engine/definition/messages';
import type { IAppInfo } from '@rocket.chat/apps-engine/definition/metadata';

/** A visitor asking for a person, as the whole message. */
const HANDOVER_REQUEST = /^\s*(?:(?:talk to |speak to )?(?:an? )?(?:agent|human|person)|live agent)\s*[.!?]*\s*$/i;

/** The plan's Escalation/failed failure_reason values this App reports. */
type FailureReason = 'no agents available' | 'network/app error';

export class EscalationAnalyticsApp extends App implements IPostMessageSent {
	constructor(info: IAppInfo, logger: ILogger, accessors: IAppAccessors) {
		super(info, logger, accessors);
	}

	/** Only a hand-over request in a Livechat room that no agent serves yet. */
	public async checkPostMessageSent(message: IMessage): Promise<boolean> {
		return isLivechatRoom(message.room) && !message.room.servedBy && HANDOVER_REQUEST.test(message.text ?? '');
	}

	public async executePostMessageSent(message: IMessage, read: IRead, _http: IHttp, _persistence: IPersistence, modify: IModify): Promise<void> {
		const room = message.room;
		if (!isLivechatRoom(room)) {
			return;
		}
		const analytics = modify.getAnalyticsModifier();
		// Resolves to the event's id, or to undefined when the workspace has not granted
		// analytics.write; rejects when the workspace refuses the event (its tracking plan, the
		// App's rate limit, an event another path owns).
		const attempted = await analytics.logEvent({ category: 'Escalation', action: 'attempted', roomId: room.id, eventType: 'session' });
		if (attempted === undefined) {
			this.getLogger().warn('analytics.write is not granted: escalations are not logged');
		}

		let failure: FailureReason | undefined;
		if (!(await read.getLivechatReader().isOnlineAsync())) {
			failure = 'no agents available';
		} else {
			const transferred = await modify
				.getUpdater()
				.getLivechatUpdater()
				.transferVisitor(room.visitor, { currentRoom: room })
				.catch(() => false);
			if (!transferred) {
				failure = 'network/app error';
			}
		}

		if (failure !== undefined) {
			await analytics.logEvent({
				category: 'Escalation',
				action: 'failed',
				roomId: room.id,
				eventType: 'session',
				properties: { failure_reason: failure },
			});
		}
	}
}
