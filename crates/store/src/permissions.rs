//! The permission matrix (PERM-03…44): every row and verb a role can be granted, as data.
//!
//! A permission key is `row.verb`. Rows beyond the manual's matrix (PERM-45) are marked
//! `added`: SIP trunks have no screen in the original product.

/// One row of the matrix with its verbs.
pub struct PermissionRow {
    pub row: &'static str,
    pub ja: &'static str,
    pub en: &'static str,
    pub verbs: &'static [&'static str],
}

/// Labels for verbs, shared by all rows.
pub const VERBS: &[(&str, &str, &str)] = &[
    ("view", "表示", "View"),
    ("update", "更新", "Update"),
    ("delete", "削除", "Delete"),
    ("bulk_edit", "一括編集", "Bulk edit"),
    ("bulk_delete", "一括削除", "Bulk delete"),
    ("new_autodial", "新規自動発信", "New auto-dial"),
    ("download", "ダウンロード", "Download"),
    ("upload", "アップロード", "Upload"),
    ("voice", "音声ファイル", "Voice file"),
    ("post", "投稿", "Post"),
    ("alert", "アラート", "Alert"),
    ("browser_phone", "ブラウザ電話", "Browser phone"),
    ("change_caller_id", "発信者番号変更", "Change caller ID"),
    ("whisper", "ウィスパリング", "Whispering"),
    ("monitor", "モニタリング", "Monitoring"),
    (
        "group_update",
        "グループステータス更新",
        "Group status update",
    ),
    (
        "campaign_update",
        "キャンペーンステータス更新",
        "Campaign status update",
    ),
    ("lock", "ロック", "Lock"),
    ("crm", "CRM", "CRM"),
    ("sv", "SV", "SV"),
    ("history", "通話履歴", "Call history"),
    ("admin", "管理設定", "Admin settings"),
    ("personal", "固有設定", "Personal settings"),
    ("skill_level", "スキルレベル", "Skill level"),
    ("agent_status", "エージェントステータス", "Agent status"),
];

const VUD: &[&str] = &["view", "update", "delete"];
const VU: &[&str] = &["view", "update"];
const VD: &[&str] = &["view", "download"];

pub const MATRIX: &[PermissionRow] = &[
    PermissionRow {
        row: "phone",
        ja: "電話",
        en: "Phone",
        verbs: &["browser_phone", "change_caller_id"],
    },
    PermissionRow {
        row: "call",
        ja: "通話機能",
        en: "Call features",
        verbs: &["whisper", "monitor"],
    },
    PermissionRow {
        row: "chat",
        ja: "チャット",
        en: "Chat",
        verbs: &["view", "post", "alert"],
    },
    PermissionRow {
        row: "reservation_gadget",
        ja: "発信予約(ガジェット)",
        en: "Scheduled dial gadget",
        verbs: &["view"],
    },
    PermissionRow {
        row: "status",
        ja: "ステータス",
        en: "Status",
        verbs: &["update", "group_update", "campaign_update", "lock"],
    },
    PermissionRow {
        row: "tab",
        ja: "タブメニュー",
        en: "Tab menu",
        verbs: &["crm", "sv", "history", "admin", "personal"],
    },
    PermissionRow {
        row: "customer",
        ja: "顧客",
        en: "Customer",
        verbs: &[
            "view",
            "update",
            "delete",
            "bulk_edit",
            "new_autodial",
            "download",
        ],
    },
    PermissionRow {
        row: "customer_case",
        ja: "案件(顧客詳細)",
        en: "Case in customer detail",
        verbs: VUD,
    },
    PermissionRow {
        row: "customer_autodial",
        ja: "自動発信(顧客詳細)",
        en: "Auto-dial in customer detail",
        verbs: VU,
    },
    PermissionRow {
        row: "customer_history",
        ja: "通話履歴(顧客詳細)",
        en: "Call history in customer detail",
        verbs: &["view", "voice"],
    },
    PermissionRow {
        row: "case",
        ja: "案件",
        en: "Case",
        verbs: &["view", "update", "delete", "bulk_edit", "download"],
    },
    PermissionRow {
        row: "faq",
        ja: "FAQ",
        en: "FAQ",
        verbs: VUD,
    },
    PermissionRow {
        row: "realtime",
        ja: "リアルタイム",
        en: "Realtime",
        verbs: &["view", "skill_level", "agent_status"],
    },
    PermissionRow {
        row: "stats",
        ja: "統計",
        en: "Statistics",
        verbs: VD,
    },
    PermissionRow {
        row: "campaign_stats",
        ja: "キャンペーン統計",
        en: "Campaign statistics",
        verbs: VD,
    },
    PermissionRow {
        row: "status_stats",
        ja: "ステータス統計",
        en: "Status statistics",
        verbs: VD,
    },
    PermissionRow {
        row: "seat",
        ja: "座席レイアウト",
        en: "Seat layout",
        verbs: VUD,
    },
    PermissionRow {
        row: "campaign",
        ja: "キャンペーン",
        en: "Campaign",
        verbs: VUD,
    },
    PermissionRow {
        row: "autodial",
        ja: "自動発信",
        en: "Auto-dial",
        verbs: &["view", "update", "download"],
    },
    PermissionRow {
        row: "tag",
        ja: "タグ",
        en: "Tag",
        verbs: VUD,
    },
    PermissionRow {
        row: "block",
        ja: "着信拒否",
        en: "Incoming block",
        verbs: &["view", "update", "bulk_delete"],
    },
    PermissionRow {
        row: "restrict",
        ja: "発信規制",
        en: "Outbound restriction",
        verbs: &["view", "update", "upload", "bulk_delete"],
    },
    PermissionRow {
        row: "csv",
        ja: "CSVアップロード",
        en: "CSV upload",
        verbs: &["view", "upload"],
    },
    PermissionRow {
        row: "history",
        ja: "通話履歴",
        en: "Call history",
        verbs: &["view", "voice"],
    },
    PermissionRow {
        row: "reservation",
        ja: "発信予約",
        en: "Scheduled dials",
        verbs: &["view", "bulk_edit"],
    },
    PermissionRow {
        row: "voicemail",
        ja: "留守電履歴",
        en: "Voicemail history",
        verbs: &["view", "bulk_delete"],
    },
    PermissionRow {
        row: "archive",
        ja: "通話録音アーカイブ",
        en: "Call recording archive",
        verbs: VD,
    },
    PermissionRow {
        row: "agent",
        ja: "エージェント",
        en: "Agent",
        verbs: VUD,
    },
    PermissionRow {
        row: "group",
        ja: "グループ",
        en: "Group",
        verbs: VUD,
    },
    PermissionRow {
        row: "ivr",
        ja: "IVR",
        en: "IVR",
        verbs: VUD,
    },
    PermissionRow {
        row: "terminal",
        ja: "端末",
        en: "Terminal",
        verbs: VUD,
    },
    PermissionRow {
        row: "number",
        ja: "電話番号",
        en: "Phone number",
        verbs: VU,
    },
    PermissionRow {
        row: "voice",
        ja: "音声ファイル",
        en: "Voice file",
        verbs: VUD,
    },
    PermissionRow {
        row: "forward",
        ja: "外線転送",
        en: "External forwarding",
        verbs: VUD,
    },
    PermissionRow {
        row: "format",
        ja: "業務フォーマット",
        en: "Business format",
        verbs: VUD,
    },
    PermissionRow {
        row: "cfield",
        ja: "カスタムフィールド",
        en: "Custom field",
        verbs: VUD,
    },
    PermissionRow {
        row: "agent_status",
        ja: "エージェントステータス",
        en: "Agent status",
        verbs: VUD,
    },
    PermissionRow {
        row: "s3",
        ja: "AWS S3",
        en: "AWS S3",
        verbs: VU,
    },
    PermissionRow {
        row: "role",
        ja: "権限設定",
        en: "Permission settings",
        verbs: VUD,
    },
    PermissionRow {
        row: "my_terminal",
        ja: "自分の端末",
        en: "My terminals",
        verbs: VU,
    },
    PermissionRow {
        row: "password",
        ja: "パスワード",
        en: "Password",
        verbs: VU,
    },
    PermissionRow {
        row: "preference",
        ja: "固有設定",
        en: "Personal settings",
        verbs: VU,
    },
    // Added rows (PERM-45).
    PermissionRow {
        row: "trunk",
        ja: "SIPトランク",
        en: "SIP trunks",
        verbs: VUD,
    },
];

/// Every permission key, in matrix order.
pub fn all_keys() -> impl Iterator<Item = String> {
    MATRIX
        .iter()
        .flat_map(|r| r.verbs.iter().map(move |v| format!("{}.{}", r.row, v)))
}

pub fn is_known(key: &str) -> bool {
    key.split_once('.').is_some_and(|(row, verb)| {
        MATRIX
            .iter()
            .any(|r| r.row == row && r.verbs.contains(&verb))
    })
}

pub fn verb_labels(verb: &str) -> (&'static str, &'static str) {
    VERBS
        .iter()
        .find(|(v, _, _)| *v == verb)
        .map(|(_, ja, en)| (*ja, *en))
        .unwrap_or(("", ""))
}

/// Rows whose every verb the SV role lacks by default: the administration screens.
const ADMIN_ROWS: &[&str] = &[
    "agent",
    "group",
    "ivr",
    "terminal",
    "number",
    "voice",
    "forward",
    "format",
    "cfield",
    "agent_status",
    "s3",
    "role",
    "trunk",
];

/// What the Agent role may do by default: its own phone, status, CRM work, its call history
/// and personal settings — nothing of supervision or administration.
const AGENT_DEFAULTS: &[&str] = &[
    "phone.browser_phone",
    "phone.change_caller_id",
    "chat.view",
    "chat.post",
    "chat.alert",
    "reservation_gadget.view",
    "status.update",
    "status.group_update",
    "status.campaign_update",
    "tab.crm",
    "tab.history",
    "tab.personal",
    "customer.view",
    "customer.update",
    "customer.new_autodial",
    "customer_case.view",
    "customer_case.update",
    "customer_autodial.view",
    "customer_autodial.update",
    "customer_history.view",
    "customer_history.voice",
    "case.view",
    "case.update",
    "faq.view",
    "history.view",
    "history.voice",
    "reservation.view",
    "voicemail.view",
    "my_terminal.view",
    "my_terminal.update",
    "password.view",
    "password.update",
    "preference.view",
    "preference.update",
];

/// The default permission set of a built-in role (`agent`, `sv`, `admin`).
pub fn builtin_defaults(role: &str) -> Vec<String> {
    match role {
        "admin" => all_keys().collect(),
        "sv" => all_keys()
            .filter(|k| {
                let row = k.split('.').next().unwrap_or_default();
                !ADMIN_ROWS.contains(&row) && k != "tab.admin"
            })
            .collect(),
        "agent" => AGENT_DEFAULTS.iter().map(|s| s.to_string()).collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_verb_has_labels_and_keys_are_unique() {
        let keys: Vec<_> = all_keys().collect();
        let mut sorted = keys.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), keys.len());
        for r in MATRIX {
            for v in r.verbs {
                assert_ne!(verb_labels(v).0, "", "verb {v} has no label");
            }
        }
    }

    #[test]
    fn agent_defaults_are_known_and_exclude_supervision() {
        for k in builtin_defaults("agent") {
            assert!(is_known(&k), "{k}");
        }
        let agent = builtin_defaults("agent");
        assert!(!agent
            .iter()
            .any(|k| k == "call.monitor" || k == "call.whisper")); // ROLE-04
        assert!(!agent.iter().any(|k| k == "archive.view")); // ROLE-05
        let sv = builtin_defaults("sv");
        assert!(sv.iter().any(|k| k == "archive.view"));
        assert!(!sv.iter().any(|k| k == "agent.update" || k == "tab.admin"));
    }
}
