from shared.db.base import Base, TenantMixin, TimestampMixin
from shared.db.engine import Database
from shared.db.tenancy import set_tenant

__all__ = ["Base", "Database", "TenantMixin", "TimestampMixin", "set_tenant"]
