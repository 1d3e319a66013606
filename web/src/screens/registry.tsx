import { lazy, Suspense, type ComponentType } from 'react';
import { useTranslation } from 'react-i18next';
import { AgentDetail, AgentList } from './admin/Agents';
import { AgentStatusDetail, AgentStatusList } from './admin/AgentStatuses';
import { ForwardingDetail, ForwardingList } from './admin/Forwardings';
import { GroupDetail, GroupList } from './admin/Groups';
import { IvrDetail, IvrList } from './admin/Ivrs';
import { NumberDetail, NumberList } from './admin/Numbers';
import { RoleDetail, RoleList } from './admin/Roles';
import { MailSettingsScreen } from './admin/Mail';
import { S3SettingsScreen, SystemSettingsScreen } from './admin/Settings';
import { TerminalDetail, TerminalList } from './admin/Terminals';
import { TrunkDetail, TrunkList } from './admin/Trunks';
import { VoiceFileDetail, VoiceFileList } from './admin/VoiceFiles';
import { VoicemailList } from './history/Voicemails';
import { RecordingArchiveScreen } from './history/Archive';
import { CallHistoryList } from './history/Calls';
import { PasswordScreen } from './personal/Password';
import { PreferencesScreen } from './personal/Preferences';
import { IncomingBlockDetail, IncomingBlockList } from './sv/IncomingBlocks';
import { OutboundRestrictionDetail, OutboundRestrictionList } from './sv/OutboundRestrictions';

// The realtime screen brings the charting library; load it only when opened.
const RealtimeLazy = lazy(() => import('./sv/Realtime'));
function RealtimeScreen() {
  const { t } = useTranslation();
  return (
    <Suspense fallback={<p className="muted">{t('common.loading')}</p>}>
      <RealtimeLazy />
    </Suspense>
  );
}

export interface ScreenEntry {
  List: ComponentType;
  Detail?: ComponentType<{ id: string }>;
}

/** Built screens by "<tab>/<item>"; every other menu item shows the "coming soon" page. */
export const SCREENS: Record<string, ScreenEntry> = {
  'admin/agents': { List: AgentList, Detail: AgentDetail },
  'admin/groups': { List: GroupList, Detail: GroupDetail },
  'admin/ivr': { List: IvrList, Detail: IvrDetail },
  'admin/terminals': { List: TerminalList, Detail: TerminalDetail },
  'admin/numbers': { List: NumberList, Detail: NumberDetail },
  'admin/agent_statuses': { List: AgentStatusList, Detail: AgentStatusDetail },
  'admin/roles': { List: RoleList, Detail: RoleDetail },
  'admin/trunks': { List: TrunkList, Detail: TrunkDetail },
  'admin/voices': { List: VoiceFileList, Detail: VoiceFileDetail },
  'admin/forwards': { List: ForwardingList, Detail: ForwardingDetail },
  'sv/realtime': { List: RealtimeScreen },
  'sv/blocks': { List: IncomingBlockList, Detail: IncomingBlockDetail },
  'sv/restrictions': { List: OutboundRestrictionList, Detail: OutboundRestrictionDetail },
  'history/calls': { List: CallHistoryList },
  'history/archive': { List: RecordingArchiveScreen },
  'history/voicemail': { List: VoicemailList },
  'admin/s3': { List: S3SettingsScreen },
  'admin/system': { List: SystemSettingsScreen },
  'admin/mail': { List: MailSettingsScreen },
  'personal/password': { List: PasswordScreen },
  'personal/preferences': { List: PreferencesScreen },
};
