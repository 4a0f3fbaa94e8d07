# bash completion for ha-probe (hamon); installed as
# share/bash-completion/completions/ha-probe.
_ha_probe() {
    local cur prev
    cur=${COMP_WORDS[COMP_CWORD]}
    prev=${COMP_WORDS[COMP_CWORD-1]}
    case $prev in
        --command) mapfile -t COMPREPLY < <(compgen -W 'check ping' -- "$cur"); return ;;
        --format) mapfile -t COMPREPLY < <(compgen -W 'vcs ocf lsb nagios plain' -- "$cur"); return ;;
        --host) mapfile -t COMPREPLY < <(compgen -A hostname -- "$cur"); return ;;
        --unix) mapfile -t COMPREPLY < <(compgen -f -- "$cur"); return ;;
        --port | --timeout-ms | --timeout | --check) COMPREPLY=(); return ;;
    esac
    mapfile -t COMPREPLY < <(compgen -W '--host --port --unix --timeout-ms --timeout --command
        --check --format --quiet --debug --help --version' -- "$cur")
}
complete -F _ha_probe ha-probe
