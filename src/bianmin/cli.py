"""The `bianmin` command: run the platform, load the demo, move the catalog in and out of Excel, check the audit log.

    bianmin run [--host 127.0.0.1] [--port 8000]   migrate, load reference data, serve
    bianmin demo                                     load Zhanjiang's reference data and demo accounts
    bianmin import-catalog FILE.xlsx [--dry-run]     import items from Excel (all rows or none)
    bianmin export-catalog FILE.xlsx                 export the catalog to Excel
    bianmin audit verify                             check the audit log's keyed chain against the newest checkpoint
    bianmin audit checkpoint                         write (and print) a signed checkpoint of the chain's newest entry
    bianmin tick                                     one round of periodic work (deadline alerts, outbox, file sweep, audit checkpoint)
    bianmin import-licences FILE.xlsx [--dry-run]    import licences issued before the platform
    bianmin manage ARGS…                             any Django management command
"""

from __future__ import annotations

import argparse
import os
import sys


def _setup(debug_default: bool = False) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bianmin.settings")
    if debug_default:
        os.environ.setdefault("DEBUG", "1")
    import django

    django.setup()


def _migrate(verbosity: int = 0) -> None:
    from django.conf import settings
    from django.core.management import call_command

    settings.VAR_DIR.mkdir(parents=True, exist_ok=True)
    call_command("migrate", interactive=False, verbosity=verbosity)


def cmd_run(args) -> int:
    _setup(debug_default=True)
    from django.core.management import call_command

    _migrate()
    from bianmin.demo import loader

    report = loader.load_reference_data()
    accounts = loader.ensure_demo_accounts()
    print(report.summary())
    _demo_history()
    accounts += loader.ensure_demo_applicant_accounts()
    url = f"http://{args.host}:{args.port}"
    print(f"\n便民 bianmin 已启动: {url}/  (事项目录)")
    print(f"工作人员登录: {url}/console/login/   管理后台: {url}/admin/")
    print("演示账号(密码均为 " + loader.DEMO_PASSWORD + "):")
    for username, label in accounts:
        print(f"  {username:<16} {label}")
    _start_ticking()
    print("按 Ctrl+C 停止。\n", flush=True)
    call_command("runserver", f"{args.host}:{args.port}", use_reloader=False, verbosity=0)
    return 0


TICK_LABELS = {"alerts_yellow": "新黄牌", "alerts_red": "新红牌", "alerts_resolved": "解除预警", "alert_messages": "预警消息",
               "outbox": "重发待发通知", "licences_expired": "到期证照",
               "stat_months": "重算统计月份", "stat_rows": "统计行",
               "files_orphaned": "清除无主文件", "files_temp": "清除临时上传文件"}


def _tick_summary(done: dict) -> str:
    return "、".join(f"{TICK_LABELS.get(k, k)} {v}" for k, v in done.items())


def _start_ticking() -> None:
    """Periodic work without a broker: tick once now, then every BIANMIN_TICK_SECONDS (default 600;
    0 disables) in a daemon thread. With CELERY_BROKER_URL set, Celery beat does it instead."""
    import threading
    import time

    from django.conf import settings

    try:
        seconds = int(os.environ.get("BIANMIN_TICK_SECONDS", "600"))
    except ValueError:
        seconds = 600
    if seconds <= 0 or settings.CELERY_BROKER_URL:
        return

    def loop():
        from django.db import connection

        from bianmin.cases.tasks import sweep_files
        from bianmin.supervision.tasks import tick

        while True:
            try:
                done = {**tick(), **sweep_files()}
                try:  # the audit chain anchored outside the database every round (a broken chain: below)
                    _write_checkpoint()
                except LookupError:  # no department's seal yet (a first run): nothing to sign with
                    pass
                if any(v for k, v in done.items() if k.startswith("alert") or k == "outbox"):  # quiet when nothing happened
                    print("定时任务:" + _tick_summary(done), flush=True)
            except Exception as exc:  # a failed round must not stop the next one
                print(f"定时任务失败:{type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
            finally:
                connection.close()
            time.sleep(seconds)

    threading.Thread(target=loop, name="bianmin-tick", daemon=True).start()
    print(f"定时任务(办件时限预警、待发通知)每 {seconds} 秒执行一次。")


def _demo_history() -> None:
    import time

    from bianmin.demo import history
    from bianmin.licences import demo as licences_demo
    from bianmin.supervision import demo as supervision_demo

    started = time.perf_counter()
    created = history.generate_history()
    if created:
        print(f"演示办件:生成过去一年的 {created} 件办件(各种状态),用时 {time.perf_counter() - started:.1f} 秒。")
    from bianmin.cases.models import Applicant

    applicants = Applicant.objects.order_by("id")
    people, firms = applicants.filter(kind="person")[:6], applicants.filter(kind="legal_person")[:4]
    for load in (lambda: licences_demo.load(people=people, firms=firms), supervision_demo.load):
        made = {k: v for k, v in load().items() if v}
        if made:
            print("演示数据:" + "、".join(f"{k} {v}" for k, v in made.items()))


def cmd_demo(args) -> int:
    _setup(debug_default=True)
    _migrate()
    from bianmin.demo import loader

    print(loader.load_reference_data().summary())
    accounts = loader.ensure_demo_accounts()  # before the history: demo progress reports are made by demo staff
    _demo_history()
    accounts += loader.ensure_demo_applicant_accounts()
    for username, label in accounts:
        print(f"  {username:<16} {label}")
    return 0


def _run_import(path: str, importer) -> int:
    """An Excel import from the command line: all rows or none; every bad row listed on stderr."""
    from bianmin.core.errors import DomainError

    try:
        with open(path, "rb") as fh:
            result = importer(fh)
    except FileNotFoundError:
        print(f"找不到文件:{path}", file=sys.stderr)
        return 2
    except DomainError as exc:
        print(exc.message, file=sys.stderr)
        for d in exc.details:
            print(f"  {d.get('row', '')} {d.get('message', '')}", file=sys.stderr)
        return 1
    print(result.summary())
    return 0


def cmd_import(args) -> int:
    _setup()
    from bianmin.catalog import excel

    return _run_import(args.file, lambda fh: excel.import_catalog(fh, actor=None, dry_run=args.dry_run))


def cmd_export(args) -> int:
    _setup()
    from bianmin.catalog import excel

    with open(args.file, "wb") as fh:
        count = excel.export_catalog(fh)
    print(f"已导出 {count} 个事项到 {args.file}")
    return 0


def _checkpoint_seal():
    from bianmin.licences.seals import CheckpointSeal

    return CheckpointSeal()


def cmd_audit_verify(args) -> int:
    _setup()
    from bianmin.core import audit

    checkpoint = audit.latest_checkpoint()
    result = audit.verify(checkpoint=checkpoint, seal=_checkpoint_seal())
    if result.ok:
        anchored = (f"最新检查点(第 {checkpoint.entry_id} 号记录,{checkpoint.created_at[:19].replace('T', ' ')} UTC)相符"
                    if checkpoint is not None else "尚无检查点,末尾记录被删除无法察觉,请运行 bianmin audit checkpoint")
        print(f"审计日志完整:已核验 {result.checked} 条记录;{anchored}。")
        return 0
    where = f"第 {result.broken_id} 号记录 " if result.broken_id is not None else ""
    print(f"审计日志被篡改:{where}{result.reason}(此前 {result.checked} 条完好)。")
    return 1


def _write_checkpoint():
    """A signed checkpoint; a chain that does not verify is not anchored (RuntimeError with the reason)."""
    from bianmin.core import audit

    from bianmin.licences.tasks import write_audit_checkpoint

    try:
        return write_audit_checkpoint()
    except audit.AuditBroken as exc:
        where = f"第 {exc.result.broken_id} 号记录 " if exc.result.broken_id is not None else ""
        raise RuntimeError(f"审计日志被篡改,未写检查点:{where}{exc.result.reason}。") from None


def cmd_audit_checkpoint(args) -> int:
    _setup()
    try:
        cp = _write_checkpoint()
    except (RuntimeError, LookupError) as exc:  # a broken chain; no seal to sign with
        print(exc.args[0] if exc.args else exc, file=sys.stderr)
        return 1
    print(f"已写入审计日志检查点 {cp.name}(第 {cp.entry_id} 号记录):")
    print(cp.to_json())
    return 0


def cmd_tick(args) -> int:
    _setup()
    from bianmin.cases.tasks import sweep_files
    from bianmin.supervision.tasks import tick

    done = {**tick(), **sweep_files()}
    print("定时任务已执行:" + _tick_summary(done))
    try:
        cp = _write_checkpoint()
    except RuntimeError as exc:  # the chain does not verify: an alert, the exit code says so
        print(exc, file=sys.stderr)
        return 1
    except LookupError as exc:  # a first run without departments: nothing to sign with yet
        print(f"未写审计日志检查点:{exc.args[0]}", file=sys.stderr)
        return 0
    print(f"审计日志检查点:第 {cp.entry_id} 号记录({cp.name})")
    return 0


def cmd_import_licences(args) -> int:
    _setup()
    from bianmin.licences import excel

    return _run_import(args.file, lambda fh: excel.import_licences(fh, actor=None, dry_run=args.dry_run))


def cmd_manage(args) -> int:
    _setup()
    from django.core.management import execute_from_command_line

    execute_from_command_line(["bianmin manage", *args.rest])
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bianmin", description="便民:湛江市政务服务平台")
    sub = parser.add_subparsers(dest="command", required=True, metavar="命令")

    p = sub.add_parser("run", help="迁移数据库、载入参考数据并启动开发服务器")
    p.add_argument("--host", default=os.environ.get("BIANMIN_HOST", "127.0.0.1"))
    p.add_argument("--port", default=os.environ.get("BIANMIN_PORT", "8000"))
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("demo", help="载入湛江参考数据(区划、部门、大厅、事项、证明清单)和演示账号")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("import-catalog", help="从 Excel 导入事项:任一行有误则整批不导入,并逐行报告错误")
    p.add_argument("file", help=".xlsx 文件")
    p.add_argument("--dry-run", action="store_true", help="只检查,不写入")
    p.set_defaults(func=cmd_import)

    p = sub.add_parser("export-catalog", help="把事项目录导出为 Excel")
    p.add_argument("file", help="输出的 .xlsx 文件")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("audit", help="审计日志")
    audit_sub = p.add_subparsers(dest="audit_command", required=True, metavar="子命令")
    v = audit_sub.add_parser("verify", help="逐条核验审计日志的哈希链,报告第一处断点",
                             description="逐条核验审计日志的哈希链;完好时退出码为 0,发现篡改时报告第一处断点并以 1 退出。")
    v.set_defaults(func=cmd_audit_verify)
    c = audit_sub.add_parser("checkpoint", help="核验后为审计日志的最新记录写一份加盖电子印章的检查点,并打印",
                             description="从上一份检查点起核验审计日志,再把最新记录的编号与哈希签章后写入检查点存储"
                                         "(BIANMIN_AUDIT_CHECKPOINT_STORAGE)并打印;日志被篡改时不写,以 1 退出。")
    c.set_defaults(func=cmd_audit_checkpoint)

    p = sub.add_parser("tick", help="执行一轮定时任务:办件时限预警与超期督办、发送待发通知(可重复执行)")
    p.set_defaults(func=cmd_tick)

    p = sub.add_parser("import-licences", help="从 Excel 批量导入平台上线前颁发的证照:任一行有误则整批不导入")
    p.add_argument("file", help=".xlsx 文件")
    p.add_argument("--dry-run", action="store_true", help="只检查,不写入")
    p.set_defaults(func=cmd_import_licences)

    p = sub.add_parser("manage", help="运行 Django 管理命令,例如 bianmin manage createsuperuser")
    p.add_argument("rest", nargs=argparse.REMAINDER)
    p.set_defaults(func=cmd_manage)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args) or 0


if __name__ == "__main__":
    sys.exit(main())
