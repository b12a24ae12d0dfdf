"""caw 0.1.9's API on caw's core: the Agent/Session front, its data dirs, its helpers.

caw 0.1.9 (PyPI ``coding-agent-wrapper``) is the library caw's users come from; this
package lets its documented code run unchanged. docs/migrating.md lists what differs.
"""
