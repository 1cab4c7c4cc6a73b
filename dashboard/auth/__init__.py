"""Dashboard authentication: users, roles, sessions, bearer tokens and the guard on every route.

Routes and callbacks use `requires(Action.X)` / `require(Action.X)` / `current_user()`;
`create_app` calls `install_auth` and registers `auth_blueprint`; see docs in each module.
"""

from dashboard.auth.flask_guard import (
    AuthGate,
    NotAllowed,
    NotAuthenticated,
    current_user,
    require,
    requires,
)
from dashboard.auth.keys import InsecureSecret, check_secret
from dashboard.auth.login_page import auth_blueprint, install_auth
from dashboard.auth.roles import Action, AuthMethod, Role, User, can

__all__ = [
    "Action", "AuthGate", "AuthMethod", "InsecureSecret", "NotAllowed", "NotAuthenticated",
    "Role", "User", "auth_blueprint", "can", "check_secret", "current_user", "install_auth",
    "require", "requires",
]
