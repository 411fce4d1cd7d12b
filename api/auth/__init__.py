"""Authentication for the API: LDAP login (`calipso_api.auth.ldap`) and the API tokens issued at
login (`calipso_api.auth.tokens`), implementing the protocols of `calipso_api.security`."""

from calipso_api.auth.ldap import LdapAuthenticator, LdapSettings, LdapSettingsError
from calipso_api.auth.tokens import StoreTokenService

__all__ = ["LdapAuthenticator", "LdapSettings", "LdapSettingsError", "StoreTokenService"]
