# csmpt launch --scheduler local: {{nproc}} processes on this machine (world size {{world_size}}).
# Ranks > 0 write their output to {{log_dir}}/rank<R>.out; each rank ends with rank<R>.json there.
cd {{workdir}}
{{env}}{{composer_command}}
