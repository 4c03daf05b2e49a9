"""The UI's words in Chinese and English. A missing key shows itself as `[key]`."""

from __future__ import annotations

from collections.abc import Callable

LANGUAGES = ("zh", "en")

TEXT: dict[str, dict[str, str]] = {
    "app": {"zh": "安居 · 小区门禁", "en": "Anju · compound access"},
    "login": {"zh": "登录", "en": "Log in"},
    "logout": {"zh": "退出", "en": "Log out"},
    "username": {"zh": "用户名", "en": "User name"},
    "password": {"zh": "密码", "en": "Password"},
    "purpose": {"zh": "查询事由（社区民警必填）", "en": "Purpose of this session (officers must)"},
    "login_refused": {
        "zh": "登录失败：用户名或密码错误，或账户暂时锁定",
        "en": "Login refused: wrong user name or password, or the account is locked for a while",
    },
    "purpose_needed": {
        "zh": "社区民警查阅个人信息须说明事由",
        "en": "Officers must give a purpose to read personal data",
    },
    "dashboard": {"zh": "总览", "en": "Dashboard"},
    "entries": {"zh": "通行记录", "en": "Entry log"},
    "anomalies": {"zh": "异常", "en": "Anomalies"},
    "incidents": {"zh": "发案与工单", "en": "Incidents & work orders"},
    "residents": {"zh": "住户", "en": "Residents"},
    "inside_now": {"zh": "当前在内", "en": "Inside now"},
    "resident": {"zh": "住户", "en": "Residents"},
    "visitor": {"zh": "访客", "en": "Visitors"},
    "staff": {"zh": "工作人员", "en": "Staff"},
    "unknown": {"zh": "未知", "en": "Unknown"},
    "vehicles": {"zh": "车辆", "en": "Vehicles"},
    "people": {"zh": "人员", "en": "People"},
    "occupancy_24h": {"zh": "近24小时在内人数", "en": "Occupancy, last 24 hours"},
    "live_entries": {"zh": "实时通行", "en": "Live entries"},
    "edges": {"zh": "边缘设备", "en": "Edge status"},
    "open_anomalies": {"zh": "待处理异常", "en": "Open anomalies"},
    "online": {"zh": "在线", "en": "online"},
    "offline": {"zh": "离线", "en": "offline"},
    "backlog": {"zh": "待传", "en": "backlog"},
    "time": {"zh": "时间", "en": "Time"},
    "gate": {"zh": "门", "en": "Gate"},
    "direction": {"zh": "方向", "en": "Direction"},
    "in": {"zh": "进", "en": "in"},
    "out": {"zh": "出", "en": "out"},
    "who": {"zh": "人员", "en": "Who"},
    "method": {"zh": "方式", "en": "Method"},
    "plate": {"zh": "车牌", "en": "Plate"},
    "plate_prefix": {"zh": "车牌前缀", "en": "Plate prefix"},
    "person": {"zh": "人员编号", "en": "Person id"},
    "decision": {"zh": "结果", "en": "Decision"},
    "granted": {"zh": "放行", "en": "granted"},
    "denied": {"zh": "拒绝", "en": "denied"},
    "why": {"zh": "原因", "en": "Why"},
    "scores": {"zh": "分值", "en": "Scores"},
    "since": {"zh": "起", "en": "From"},
    "until": {"zh": "止", "en": "Until"},
    "any": {"zh": "全部", "en": "any"},
    "search": {"zh": "查询", "en": "Search"},
    "export_csv": {"zh": "导出CSV", "en": "Export CSV"},
    "next_page": {"zh": "下一页", "en": "Next page"},
    "none": {"zh": "无", "en": "none"},
    "rule": {"zh": "规则", "en": "Rule"},
    "subject": {"zh": "对象", "en": "Subject"},
    "summary": {"zh": "摘要", "en": "Summary"},
    "status": {"zh": "状态", "en": "Status"},
    "assignee": {"zh": "负责人", "en": "Assignee"},
    "open": {"zh": "待处理", "en": "open"},
    "acknowledged": {"zh": "已确认", "en": "acknowledged"},
    "closed": {"zh": "已关闭", "en": "closed"},
    "responded": {"zh": "已响应", "en": "responded"},
    "last_seen": {"zh": "最近", "en": "Last seen"},
    "evidence": {"zh": "证据", "en": "Evidence"},
    "history": {"zh": "处理记录", "en": "History"},
    "reason": {"zh": "理由", "en": "Reason"},
    "acknowledge": {"zh": "确认", "en": "Acknowledge"},
    "assign": {"zh": "指派", "en": "Assign"},
    "close": {"zh": "关闭", "en": "Close"},
    "reopen": {"zh": "重新打开", "en": "Reopen"},
    "respond": {"zh": "响应", "en": "Respond"},
    "scan_now": {"zh": "立即检测", "en": "Scan now"},
    "zero_incident": {"zh": "零发案率", "en": "Zero-incident rate"},
    "streak": {"zh": "连续无发案天数", "en": "Incident-free streak (days)"},
    "incident_days": {"zh": "发案天数", "en": "Days with an incident"},
    "days": {"zh": "天数", "en": "Days"},
    "district": {"zh": "辖区零发案小区占比", "en": "District: compounds with no incident"},
    "record_incident": {"zh": "登记案件", "en": "Record an incident"},
    "category": {"zh": "类别", "en": "Category"},
    "occurred_at": {"zh": "发生时间", "en": "Occurred at"},
    "save": {"zh": "保存", "en": "Save"},
    "work_orders": {"zh": "工单", "en": "Work orders"},
    "report": {"zh": "报事", "en": "Report"},
    "description": {"zh": "描述", "en": "Description"},
    "owner": {"zh": "处理人", "en": "Owner"},
    "due": {"zh": "时限", "en": "Due"},
    "overdue": {"zh": "超时", "en": "overdue"},
    "absent": {"zh": "久未出现的登记住户", "en": "Registered residents not seen"},
    "unregistered": {
        "zh": "未登记的常客（人脸化名、车牌）",
        "en": "Unregistered regulars (face aliases, plates)",
    },
    "days_seen": {"zh": "出现天数", "en": "Days seen"},
    "name": {"zh": "姓名", "en": "Name"},
    "unit": {"zh": "房号", "en": "Unit"},
    "register": {"zh": "登记名册", "en": "Register"},
    "kind": {"zh": "类别", "en": "Kind"},
    "error": {"zh": "出错了", "en": "Something went wrong"},
    "not_allowed": {"zh": "无权访问此页", "en": "Your role may not open this page"},
    "done": {"zh": "已完成", "en": "Done"},
    "booth": {"zh": "岗亭", "en": "Guard booth"},
    "waiting": {"zh": "等候放行", "en": "Waiting at the gates"},
    "attempts": {"zh": "次数", "en": "Tries"},
    "may_be": {"zh": "可能是（请核实）", "en": "May be (ask the driver)"},
    "not_yet_at_gate": {"zh": "门岗名册未同步", "en": "not yet on the gate's register"},
    "choose": {"zh": "处理", "en": "Deal with"},
    "command": {"zh": "远程开闸或拒绝", "en": "Open or refuse by command"},
    "plate_read": {"zh": "识别车牌", "en": "Plate read"},
    "cmd_open": {"zh": "开闸放行", "en": "Open"},
    "cmd_deny": {"zh": "拒绝通行", "en": "Refuse"},
    "reason_hint": {
        "zh": "例：已电话核实住户，是其车辆",
        "en": "e.g. called the resident: it is their car",
    },
    "sent": {"zh": "指令已发送", "en": "Command sent"},
    "not_sent": {"zh": "指令未发送", "en": "Command not sent"},
    "reason_too_short": {
        "zh": "请填写理由（至少3个字）",
        "en": "give a reason (3 characters or more)",
    },
    "bad_id": {
        "zh": "编号只含字母、数字和 _ . : -",
        "en": "an id holds letters, digits and _ . : - only",
    },
    "visitor_pass": {"zh": "访客通行证", "en": "Visitor pass"},
    "choose_action": {"zh": "请选择：开闸或拒绝", "en": "choose: open or refuse"},
    "send_command": {"zh": "发送指令", "en": "Send the command"},
    "no_gates": {
        "zh": "本小区尚未登记任何门岗，无法远程开闸",
        "en": "No gate is set up in this compound: there is nothing to open",
    },
    "stale": {
        "zh": "与平台的连接中断，以下名单可能已过时",
        "en": "The hub is out of reach: this list may be out of date",
    },
    "refresh": {"zh": "刷新", "en": "Refresh"},
    "photo": {"zh": "抓拍", "en": "Snapshot"},
    "no_snapshot": {"zh": "无法显示抓拍", "en": "No snapshot to show"},
    "temporary_inside": {"zh": "临停车辆（在场）", "en": "Temporary vehicles inside"},
    "minutes": {"zh": "分钟", "en": "Minutes"},
}


def translator(language: str) -> Callable[[str], str]:
    def text(key: str) -> str:
        words = TEXT.get(key)
        return words[language] if words else f"[{key}]"

    return text


def pick(query: str | None, cookie: str | None, accept: str | None) -> str:
    """The language asked for in the URL, else the one chosen before, else the browser's."""
    for choice in (query, cookie):
        if choice in LANGUAGES:
            return choice
    if accept and accept.lower().lstrip().startswith("en"):
        return "en"
    return "zh"
