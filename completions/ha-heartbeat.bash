# bash completion for ha-heartbeat (hamon); installed as
# share/bash-completion/completions/ha-heartbeat.
_ha_heartbeat() {
    local cur prev command
    cur=${COMP_WORDS[COMP_CWORD]}
    prev=${COMP_WORDS[COMP_CWORD-1]}
    if [ "$prev" = --config ] || [ "$prev" = -c ]; then
        mapfile -t COMPREPLY < <(compgen -f -- "$cur")
        return
    fi
    if [ "$COMP_CWORD" -eq 1 ]; then
        mapfile -t COMPREPLY < <(compgen -W 'init run status maintenance drain undrain
            switchover events --config --help --version' -- "$cur")
        return
    fi
    command=${COMP_WORDS[1]}
    case $command in
        status)
            mapfile -t COMPREPLY < <(compgen -W '--json --watch --config' -- "$cur")
            return
            ;;
        events)
            if [ "$prev" = --since ]; then
                COMPREPLY=()
                return
            fi
            mapfile -t COMPREPLY < <(compgen -W '--since --json --cluster --config' -- "$cur")
            return
            ;;
        maintenance | drain | undrain)
            # A free text, or (maintenance) on|off first; an option once the word starts
            # with -.
            if [ "$prev" = --reason ]; then
                COMPREPLY=()
                return
            fi
            if [ "$command" = maintenance ] && [ "$COMP_CWORD" -eq 2 ] && [ "${cur#-}" = "$cur" ]; then
                mapfile -t COMPREPLY < <(compgen -W 'on off' -- "$cur")
                return
            fi
            mapfile -t COMPREPLY < <(compgen -W '--reason --config' -- "$cur")
            return
            ;;
        switchover)
            if [ "$prev" = --to ] || [ "$prev" = --reason ]; then
                COMPREPLY=()
                return
            fi
            mapfile -t COMPREPLY < <(compgen -W '--to --force --reason --config' -- "$cur")
            return
            ;;
    esac
    mapfile -t COMPREPLY < <(compgen -W '--config' -- "$cur")
}
complete -F _ha_heartbeat ha-heartbeat
