"""bianmin manage create_exchange_client "广东省政务数据共享平台" --scope licence:by_identifier --scope licence:by_holder [--department USCC]

Registers a client system of the data-sharing API and prints its id and secret (shown only here)."""

from django.core.management.base import BaseCommand, CommandError

from bianmin.core.errors import DomainError
from bianmin.licences.exchange import create_exchange_client
from bianmin.licences.models import ExchangeClient
from bianmin.org.models import Department


class Command(BaseCommand):
    help = "登记数据共享接口的接入系统,输出接入标识和密钥(密钥只显示这一次)"

    def add_arguments(self, parser):
        parser.add_argument("name", help="接入系统名称")
        parser.add_argument("--scope", action="append", choices=ExchangeClient.Scope.values, required=True, help="权限范围,可重复")
        parser.add_argument("--department", help="所属部门的统一社会信用代码(其用证记录记在该部门名下)")

    def handle(self, *args, name, scope, department=None, **options):
        dept = None
        if department:
            dept = Department.objects.filter(uscc=department.strip().upper()).first()
            if dept is None:
                raise CommandError(f"找不到统一社会信用代码为 {department} 的部门")
        try:
            client, secret = create_exchange_client(name, scope, dept)
        except DomainError as exc:
            raise CommandError(exc.message) from None
        self.stdout.write(f"client_id={client.client_id}\nsecret={secret}\n(密钥只显示这一次,请安全地交给接入方)")
