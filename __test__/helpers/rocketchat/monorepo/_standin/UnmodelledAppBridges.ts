// Not a Rocket.Chat file: the getters of the post-change AppBridges
// (packages/apps/src/server/bridges/AppBridges.ts) that no stand-in models. Each throws, so that a
// stand-in of RealAppBridges or TestsAppBridges only spells out the bridge the pull request adds.
import { AppBridges } from '../packages/apps/src/server/bridges/AppBridges';

function unmodelled(getter: string): never {
	throw new Error(`${getter} is not part of this stand-in`);
}

export abstract class UnmodelledAppBridges extends AppBridges {
	public getCommandBridge(): never {
		return unmodelled('getCommandBridge');
	}

	public getContactBridge(): never {
		return unmodelled('getContactBridge');
	}

	public getApiBridge(): never {
		return unmodelled('getApiBridge');
	}

	public getAppDetailChangesBridge(): never {
		return unmodelled('getAppDetailChangesBridge');
	}

	public getEnvironmentalVariableBridge(): never {
		return unmodelled('getEnvironmentalVariableBridge');
	}

	public getHttpBridge(): never {
		return unmodelled('getHttpBridge');
	}

	public getListenerBridge(): never {
		return unmodelled('getListenerBridge');
	}

	public getLivechatBridge(): never {
		return unmodelled('getLivechatBridge');
	}

	public getMessageBridge(): never {
		return unmodelled('getMessageBridge');
	}

	public getPersistenceBridge(): never {
		return unmodelled('getPersistenceBridge');
	}

	public getAppActivationBridge(): never {
		return unmodelled('getAppActivationBridge');
	}

	public getRoomBridge(): never {
		return unmodelled('getRoomBridge');
	}

	public getInternalBridge(): never {
		return unmodelled('getInternalBridge');
	}

	public getInternalFederationBridge(): never {
		return unmodelled('getInternalFederationBridge');
	}

	public getServerSettingBridge(): never {
		return unmodelled('getServerSettingBridge');
	}

	public getUploadBridge(): never {
		return unmodelled('getUploadBridge');
	}

	public getEmailBridge(): never {
		return unmodelled('getEmailBridge');
	}

	public getUserBridge(): never {
		return unmodelled('getUserBridge');
	}

	public getUiInteractionBridge(): never {
		return unmodelled('getUiInteractionBridge');
	}

	public getSchedulerBridge(): never {
		return unmodelled('getSchedulerBridge');
	}

	public getCloudWorkspaceBridge(): never {
		return unmodelled('getCloudWorkspaceBridge');
	}

	public getVideoConferenceBridge(): never {
		return unmodelled('getVideoConferenceBridge');
	}

	public getOAuthAppsBridge(): never {
		return unmodelled('getOAuthAppsBridge');
	}

	public getModerationBridge(): never {
		return unmodelled('getModerationBridge');
	}

	public getThreadBridge(): never {
		return unmodelled('getThreadBridge');
	}

	public getRoleBridge(): never {
		return unmodelled('getRoleBridge');
	}

	public getOutboundMessageBridge(): never {
		return unmodelled('getOutboundMessageBridge');
	}

	public getExperimentalBridge(): never {
		return unmodelled('getExperimentalBridge');
	}
}
