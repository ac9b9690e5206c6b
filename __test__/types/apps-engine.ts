// Compiled by __test__/types.test.js with tsc --noEmit --strict: the addon's types
// take the Apps-Engine's own definitions as they are.
import type { ILivechatRoom } from '@rocket.chat/apps-engine/definition/livechat/ILivechatRoom'
import {
  AnalyticsLogger,
  AppsEngineBridge,
  optionsFromSettings,
  settingsDefinitions,
  type AnalyticsEvent,
  type LoggerOptions,
} from '../../index'

declare const room: ILivechatRoom
declare const settingsGet: (id: string) => unknown

const options: LoggerOptions | null = optionsFromSettings(settingsGet, 'https://chat.example.com')
const logger = new AnalyticsLogger(options ?? { topicArn: 'arn:aws:sns:us-east-1:123456789012:t.fifo', siteUrl: 'https://chat.example.com' })
const bridge = new AppsEngineBridge(logger, {
  hasPermission: (appId: string, permission: 'analytics.write') => appId.length > 0 && permission === 'analytics.write',
  appRateLimit: { eventsPerSecond: 100, burst: 200 },
})

// The server's bridge, in the Apps-Engine's pattern: a public, permission-checked
// entry point that delegates to the shim.
abstract class AnalyticsBridge {
  public async doLogEvent(event: AnalyticsEvent, appId: string): Promise<string> {
    return this.logEvent(event, appId)
  }
  protected abstract logEvent(event: AnalyticsEvent, appId: string): Promise<string>
}
class AppAnalyticsBridge extends AnalyticsBridge {
  constructor(private readonly shim: AppsEngineBridge) {
    super()
  }
  protected logEvent(event: AnalyticsEvent, appId: string): Promise<string> {
    return this.shim.doLogEvent(event, appId)
  }
}

async function handlers(appId: string): Promise<string[]> {
  return Promise.all([
    new AppAnalyticsBridge(bridge).doLogEvent({ category: 'Escalation', action: 'attempted', roomId: room.id }, appId),
  ])
}

const group: string = settingsDefinitions().group
const secret: boolean[] = settingsDefinitions().settings.map((s) => s.options.secret)
const id: string = logger.logWidgetEvent({ token: 't', rid: room.id, category: 'Survey', action: 'link_clicked' })
const metrics: string = logger.metrics()
void [handlers, group, secret, id, metrics]
