"""The compute API (Nova v2.1 REST) at /compute: one module per resource.

``app.build_app`` assembles them; ``routing`` serves every route at a microversion
(``microversions``); ``validation`` checks bodies as Nova's schemas do; ``views`` renders
servers.  The logic behind the servers lives in ``testbed.compute.api*``.
"""
