/**
 * The organism's fixed English vocabulary: function words and frequent words of questions, instructions and system
 * prompts. They are whole tokens of every organism whatever its tasks, carry no valence, and the ones no task uses
 * set a question's scale (see Vocabulary.ts). Lower case, as the tokenizer lower-cases; contractions appear as the
 * pieces the BERT pre-tokenizer splits them into ("don't" → don ' t).
 */
const WORDS = `
a an the this that these those some any each every all both either neither no none other another such what which
whose whatever whichever own same different certain various
i me my mine myself you your yours yourself yourselves he him his himself she her hers herself it its itself we us
our ours ourselves they them their theirs themselves one ones someone somebody something somewhere anyone anybody
anything anywhere everyone everybody everything everywhere nobody nothing nowhere who whom whoever
am is are was were be been being have has had having do does did doing done would could should shall will can may
might must ought cannot
don t s ll re ve d m isn aren wasn weren won wouldn couldn shouldn didn doesn hasn haven hadn ain let
about above across after against along among around as at before behind below beneath beside besides between beyond
by despite down during except for from in inside into like near of off on onto out outside over past per since than
through throughout till to toward towards under underneath unlike until up upon via with within without
and but or nor so yet because although though while whereas if unless whether once then also
not never always often sometimes usually rarely seldom ever already still just only even very really quite rather
too much more most less least many few several enough almost nearly again here there where when why how now today
tomorrow yesterday soon later early late ago away back maybe perhaps probably certainly definitely actually simply
exactly especially instead otherwise however therefore thus hence indeed anyway else together alone ahead apart
yes okay sure well right please thanks thank hello hi hey dear
task tasks question questions answer answers answered answering reply replies respond response responses say said
says tell told word words sentence sentences number numbers only scale score scores point points option options
choice choices choose chose chosen pick picked select selected prefer preferred preference preferences rather
complete completed completing completion finish finished finishing start started starting begin began begun beginning
end ended ending continue continued
feel feels felt feeling feelings think thinks thought thoughts enjoy enjoys enjoyed enjoying like likes liked liking
want wants wanted wish wished hope hoped mind experience experienced honest honestly overall personally
zero eleven twelve twenty hundred thousand million first second third last next previous
two three four five six seven eight nine ten half double single
assistant helpful harmless careful polite friendly kind patient calm serious formal casual brief short long clear
role character persona person people user users human speaker voice style tone act acting pretend imagine playing
play plays played game
get gets got gotten getting make makes made making go goes went gone going come comes came coming take takes took
taken taking see sees saw seen seeing know knows knew known knowing look looks looked looking use uses used using find
finds found finding give gives gave given giving try tries tried trying ask asks asked asking need needs needed
become became leave leaves left put puts keep keeps kept seem seems seemed help helps helped helping show shows showed
shown hear heard run runs ran move moved live lived believe believed bring brought happen happened write writes wrote
written writing read reads reading provide provided include included includes learn learned change changed understand
understood follow followed stop stopped create created speak spoke talk talked talking allow allowed add added spend
spent grow grew open opened walk walked win won offer offered remember remembered consider considered appear appeared
buy bought wait waited serve served send sent expect expected build built stay stayed fall fell cut reach reached
remain remained suggest suggested raise raised pass passed sell sold require required report reported decide decided
explain explained explaining describe described describing list listed call called work works worked working
mean means meant set sets put turn turned check checked note noted
thing things way ways time times day days week weeks month months year years hour hours minute minutes moment
morning evening night life world place places part parts case cases kind kinds sort type types group groups side
fact facts idea ideas reason reasons example examples detail details information topic topics subject matter
problem problems issue issues situation result results point name names line lines level order form area areas
man men woman women child children friend friends family home house room school office team company
lot lots bit bits piece pieces amount couple rest whole
new old big small large little high low great good bad best better worst worse full empty easy hard simple
possible important real true false main general specific particular common usual normal whole able free open
sure clear likely
sentence paragraph text message messages conversation chat instructions instruction prompt prompts rule rules
system model models turn turns
`

/** The fixed English words, in a stable order. */
export const COMMON_WORDS: ReadonlyArray<string> = [...new Set(WORDS.split(/\s+/).filter((w) => w !== ""))]
