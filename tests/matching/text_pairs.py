"""A hand-written, hand-labelled Italian test set for the needs-vs-offers text component.

``FIRMS`` holds 70 profiles written the way a firm owner fills in the "what we offer" and
"what we need" boxes, across 24 sectors (furniture, textiles, mechanics, plastics, food,
wine, ceramics, logistics, ICT, tourism, construction, packaging, eyewear, footwear, leather,
chemicals and more), of uneven length and care (accents typed as ``qualita'``, capitals,
English words). Eight firms leave a box empty, blank or saying nothing a model can use
(``EMPTY``: stop words only).

``RELEVANT`` maps 53 seekers to the firms whose *offers* truly satisfy the seeker's *needs*
(1-3 each, 82 pairs, judged by hand on what the firms do, not on shared words). Needs are
phrased the way a buyer would, so they rarely repeat the offer's words: verb vs noun ("chi
zinchi" vs "zincatura"), singular vs plural ("polvere" vs "polveri", "calzaturifici" vs
"calzaturificio"), synonyms ("autocarri" vs "camion"). Distractors share generic or
look-alike words without being a fit: electro-zinc plating for a hot-dip galvanizing need,
ceramic inks for a flexographic-ink need, ordinary lorries for a cold-chain need, screws and
hinges for handbag buckles.

``reciprocal_pairs()`` lists the 13 pairs where each firm's offers satisfy the other's needs
(``RELEVANT`` both ways); the other 56 labelled pairs are one-sided.

The texts and labels were written before any model was run on them and were not edited
afterwards; the preprocessing change they led to (merging inflections, see
``matchmaker/matching/text.py``) was therefore chosen on this same set, so its gain here is
an optimistic estimate. ``tests/matching/test_text.py`` and ``benchmarks/text_matching.py``
use it.
"""

from typing import NamedTuple


class Firm(NamedTuple):
    """A firm's sector (for reading the set) and its two free-text boxes."""

    sector: str
    offers: str
    needs: str


FIRMS: dict[str, Firm] = {
    # --- Furniture and wood -------------------------------------------------------------
    "imbottiti_brianza": Firm(
        "furniture",
        "Produciamo divani, poltrone e letti imbottiti su misura per hotel, contract e negozi "
        "di arredamento. Tappezzeria artigianale in pelle e tessuto.",
        "Ci servono stoffe da rivestimento ignifughe (classe 1) per i divani che vanno negli "
        "alberghi, e qualcuno che ci vernici a polvere i telai in ferro delle sedute.",
    ),
    "falegnameria": Firm(
        "furniture",
        "Falegnameria artigiana: mobili su misura in legno massello, cucine, armadi a muro e "
        "porte interne. Lavorazioni CNC del pannello.",
        "Cerchiamo chi ci fornisca tavole di rovere e noce già essiccate e pannelli multistrato, "
        "e un laboratorio che ci lacchi le ante.",
    ),
    "segheria_legnami": Firm(
        "wood",
        "Commercio e segagione di legname: tavolame di rovere, noce e frassino essiccato in "
        "forno, travi in abete, pannelli multistrato e truciolari.",
        "Ci serve una ditta di trasporti con camion gruati per consegnare i bancali di legname "
        "nei cantieri e alle falegnamerie.",
    ),
    "laccatura": Firm(
        "furniture",
        "Laccatura e verniciatura di mobili e ante in legno per conto terzi: finiture opache, "
        "lucide e a poro aperto, anche con effetti metallizzati.",
        "Cerchiamo un produttore di prodotti vernicianti all'acqua per il legno (fondi e "
        "finiture) che ci dia assistenza tecnica.",
    ),
    # --- Textiles -----------------------------------------------------------------------
    "tessitura_como": Firm(
        "textiles",
        "Tessitura jacquard a Como: tessuti d'arredamento e per tappezzeria, anche ignifughi "
        "certificati classe 1 e IMO per alberghi e navi da crociera.",
        "Compriamo filati di lino e di cotone organico GOTS; valutiamo anche un terzista per "
        "il finissaggio antimacchia dei tessuti.",
    ),
    "filatura_lino": Firm(
        "textiles",
        "Filatura di lino e canapa: filati greggi e tinti, anche biologici certificati, per "
        "tessitura ortogonale e maglieria.",
        "Vorremmo conoscere tessiture e maglifici interessati a lavorare filato di canapa "
        "coltivata in Italia per collezioni sostenibili.",
    ),
    "finissaggio_tessile": Firm(
        "textiles",
        "Nobilitazione tessile: tintoria in pezza e in filo, finissaggi idrorepellenti e "
        "antimacchia, spalmature e accoppiature.",
        "Ci servono coloranti reattivi e ausiliari per tingere il cotone, con consegne "
        "puntuali e schede di sicurezza aggiornate.",
    ),
    "maglificio_carpi": Firm(
        "textiles",
        "Maglificio a Carpi: maglie, cardigan e pullover in lana, cashmere e cotone per marchi "
        "di moda, dal prototipo alla produzione in serie.",
        "Abbiamo bisogno di etichette tessute con il logo del brand e dei cartellini da "
        "appendere ai capi finiti.",
    ),
    "etichettificio": Firm(
        "textiles",
        "Etichette tessute e stampate in raso, cartellini, nastri e patch personalizzati per "
        "l'abbigliamento e la moda.",
        "Cerchiamo un grafico o un'agenzia che prepari i bozzetti e i loghi per i clienti.",
    ),
    "confezioni_tende": Firm(
        "textiles",
        "Laboratorio di cucito conto terzi: confezioniamo tende, cuscini, copriletti e fodere "
        "per divani, anche piccole serie.",
        "Ci mancano un paio di macchine per cucire industriali usate e un tecnico per la "
        "manutenzione.",
    ),
    "macchine_cucire": Firm(
        "machinery",
        "Vendita e assistenza di macchine da cucire industriali nuove e ricondizionate, "
        "riparazioni in sede o dal cliente.",
        "",
    ),
    # --- Mechanics and metalworking -----------------------------------------------------
    "verniciatura_polveri": Firm(
        "mechanics",
        "Verniciatura a polveri epossidiche e poliestere di particolari metallici, telai e "
        "carpenterie fino a 6 metri. Sabbiatura e cataforesi conto terzi.",
        "Ci serve un trasportatore che ritiri e riconsegni i pezzi dai clienti in giornata.",
    ),
    "tornerie_cnc": Firm(
        "mechanics",
        "Tornitura e fresatura CNC di precisione su disegno del cliente: acciaio inox, ottone "
        "e alluminio, piccole e medie serie, controllo qualita' con macchina di misura 3D.",
        "Cerchiamo chi faccia tempra, bonifica e nitrurazione dei pezzi, e chi zinchi o "
        "anodizzi i particolari torniti.",
    ),
    "trattamenti_termici": Firm(
        "mechanics",
        "Trattamenti termici dei metalli in conto terzi: tempra sottovuoto, cementazione, "
        "nitrurazione gassosa, ricottura e bonifica.",
        "Ci occorre una ditta che esegua la manutenzione dei forni industriali e dei "
        "bruciatori.",
    ),
    "galvanica": Firm(
        "mechanics",
        "Galvanica: zincatura elettrolitica, nichelatura, cromatura e ossidazione anodica "
        "dell'alluminio, anche su minuterie a rotobarile.",
        "Cerchiamo una ditta autorizzata per lo smaltimento dei fanghi e delle acque di "
        "processo.",
    ),
    "carpenteria": Firm(
        "mechanics",
        "Carpenteria metallica pesante e leggera: strutture in acciaio, capannoni, scale, "
        "soppalchi, saldature certificate EN 1090.",
        "Cerchiamo una zincheria a caldo per le strutture e un verniciatore a polvere per le "
        "parti di finitura.",
    ),
    "stampi_plastica": Firm(
        "mechanics",
        "Costruzione di stampi per iniezione di materie plastiche e per pressofusione, "
        "modifiche e manutenzione stampi.",
        "Cerchiamo un'azienda con presse che produca i pezzi in plastica con i nostri stampi "
        "quando il cliente non ha un suo stampatore.",
    ),
    "stampaggio_plastica": Firm(
        "plastics",
        "Stampaggio a iniezione di termoplastici conto terzi, presse da 50 a 800 tonnellate, "
        "assemblaggio e tampografia.",
        "Abbiamo bisogno di un attrezzista che ripari e modifichi gli stampi dei clienti, e di "
        "granulo di polipropilene riciclato.",
    ),
    "automazione": Firm(
        "automation",
        "Progettiamo quadri elettrici e software PLC per macchine automatiche, robot "
        "antropomorfi e linee di imballaggio; retrofit di macchinari.",
        "Cerchiamo un'officina che realizzi la parte meccanica delle nostre macchine: telai "
        "saldati e particolari lavorati di precisione.",
    ),
    "riciclo_plastica": Firm(
        "plastics",
        "Recupero e rigenerazione di scarti plastici: granuli di polipropilene e polietilene "
        "riciclati per lo stampaggio.",
        "Acquistiamo sfridi e scarti di lavorazione in plastica da stampatori e produttori di "
        "imballaggi.",
    ),
    "minuteria_metallica": Firm(
        "mechanics",
        "Minuterie metalliche tornite e stampate: viti, perni, cerniere flex per "
        "l'occhialeria, microcomponenti in titanio.",
        "Ci servono un paio di torni automatici usati e qualcuno che affili gli utensili.",
    ),
    # --- Logistics ----------------------------------------------------------------------
    "trasporti_lombardia": Firm(
        "logistics",
        "Autotrasporto conto terzi con furgoni, motrici con gru e bilici centinati: consegne "
        "in giornata in Lombardia e nel Nord Italia, groupage e deposito.",
        "Cerchiamo un'officina che faccia la manutenzione ai nostri autocarri e un "
        "distributore di carburante con prezzi convenzionati.",
    ),
    "officina_camion": Firm(
        "mechanics",
        "Officina per veicoli industriali: tagliandi e riparazioni di camion, rimorchi e "
        "semirimorchi, freni, revisioni, gommista.",
        "Cerchiamo ricambi originali per mezzi pesanti con consegna entro 24 ore.",
    ),
    "trasporti_frigo": Firm(
        "logistics",
        "Trasporti refrigerati a temperatura controllata per alimenti freschi e surgelati, "
        "celle frigorifere e piattaforma logistica.",
        "Cerchiamo un'officina specializzata nei gruppi frigo per semirimorchi.",
    ),
    "magazzino_logistica": Firm(
        "logistics",
        "Logistica integrata: magazzino conto terzi, stoccaggio su scaffalature, preparazione "
        "degli ordini per e-commerce e spedizioni con corrieri nazionali.",
        "Ci serve un software WMS per gestire il magazzino e i lettori di codici a barre.",
    ),
    "spedizioniere": Firm(
        "logistics",
        "Spedizioni internazionali via mare e via aerea, pratiche doganali, container completi "
        "e groupage verso USA, Cina e Medio Oriente.",
        "",
    ),
    "rifiuti_industriali": Firm(
        "environment",
        "Raccolta, trasporto e smaltimento di rifiuti speciali: fanghi industriali, reflui, "
        "oli esausti; consulenza ambientale e formulari.",
        "",
    ),
    # --- Food ---------------------------------------------------------------------------
    "pastificio": Firm(
        "food",
        "Pastificio artigianale: pasta secca di semola trafilata al bronzo ed essiccata "
        "lentamente, formati regionali, anche a marchio del distributore.",
        "Cerchiamo un molino che ci fornisca semola rimacinata di grano duro siciliano e "
        "sacchetti di carta per alimenti.",
    ),
    "molino": Firm(
        "food",
        "Molino a pietra: macinazione di grani antichi e di grano duro, semole, farine "
        "integrali e tipo 1 in sacchi da 25 kg.",
        "Vorremmo rifornire pastifici, panifici e pizzerie della zona con le nostre farine; "
        "cerchiamo anche agricoltori per contratti di coltivazione.",
    ),
    "azienda_agricola": Firm(
        "agriculture",
        "Azienda agricola in Puglia: coltiviamo grano duro, ceci, lenticchie e olive; olio "
        "extravergine di nostra produzione.",
        "Ci serve un contoterzista con mietitrebbia per la raccolta del grano.",
    ),
    "frantoio": Firm(
        "food",
        "Frantoio oleario: molitura delle olive conto terzi a ciclo continuo, imbottigliamento "
        "e vendita di olio extravergine.",
        "Cerchiamo bottiglie in vetro scuro per l'olio, da 0,5 e 0,75 litri.",
    ),
    "caseificio": Firm(
        "food",
        "Caseificio: mozzarella di bufala, ricotta e latticini freschi, consegne quotidiane a "
        "ristoranti e negozi.",
        "Cerchiamo un trasportatore con mezzi frigo per le consegne in Campania e nel Lazio.",
    ),
    "salumificio": Firm(
        "food",
        "Salumificio: prosciutto crudo, salame e pancetta stagionati, affettati in vaschetta "
        "in atmosfera protettiva.",
        "Abbiamo bisogno di vaschette e film barriera per il confezionamento in ATM e di un "
        "laboratorio per i controlli microbiologici.",
    ),
    "laboratorio_analisi": Firm(
        "services",
        "Laboratorio di analisi chimiche e microbiologiche accreditato per alimenti, acque e "
        "ambienti di lavoro; consulenza HACCP.",
        "   ",
    ),
    "pasticceria": Firm(
        "food",
        "Pasticceria artigianale: panettoni, colombe, biscotti e dolci da forno confezionati "
        "per i regali aziendali.",
        "Cerchiamo scatole regalo in cartoncino stampato e qualcuno che ci faccia il negozio "
        "online per vendere i nostri dolci.",
    ),
    # --- Wine ---------------------------------------------------------------------------
    "cantina_langhe": Firm(
        "wine",
        "Cantina nelle Langhe: Barolo, Barbaresco, Nebbiolo e Dolcetto; visite e degustazioni "
        "in cantina su prenotazione.",
        "Cerchiamo un fornitore di bottiglie in vetro e di tappi di sughero naturale, e una "
        "tipografia per le etichette adesive dei vini.",
    ),
    "cantina_chianti": Firm(
        "wine",
        "Chianti Classico, Vin Santo e olio extravergine della fattoria; degustazioni guidate "
        "e vendita diretta.",
        "Cerchiamo strutture ricettive e agriturismi in zona per pacchetti enoturistici di più "
        "giorni per i nostri visitatori.",
    ),
    "vetreria": Firm(
        "glass",
        "Produzione di contenitori in vetro: bottiglie per vino, olio e liquori, vasetti per "
        "conserve; decorazione e serigrafia.",
        "Ci serve un fornitore di imballi in cartone ondulato e di bancali per le spedizioni.",
    ),
    "tipografia": Firm(
        "printing",
        "Stampa di etichette adesive in bobina per vini, olio e alimentari, con nobilitazioni "
        "a caldo e rilievo.",
        "",
    ),
    "sugherificio": Firm(
        "wine",
        "Tappi in sughero naturale e tecnici per vini fermi e spumanti, personalizzati a fuoco.",
        "Cerchiamo cantine e produttori di vino per forniture dirette di chiusure.",
    ),
    # --- Ceramics and glazes ------------------------------------------------------------
    "ceramica_sassuolo": Firm(
        "ceramics",
        "Piastrelle in gres porcellanato per pavimenti e rivestimenti, grandi formati e lastre "
        "sottili, MADE IN ITALY.",
        "Cerchiamo un partner logistico per spedire container negli Stati Uniti e un "
        "fornitore di casse in legno su misura per le lastre.",
    ),
    "smalti_ceramici": Firm(
        "ceramics",
        "Colorificio ceramico: smalti, engobbi, graniglie e inchiostri digitali per "
        "piastrelle.",
        "Cerchiamo produttori di piastrelle e ceramiche con cui sviluppare nuove superfici.",
    ),
    "ceramiche_artistiche": Firm(
        "ceramics",
        "Bottega di ceramica artistica a Deruta: piatti, vasi e maioliche dipinte a mano, "
        "anche personalizzate per ristoranti e hotel.",
        "Vorremmo vendere all'estero con un sito e-commerce in inglese e tedesco.",
    ),
    # --- Construction -------------------------------------------------------------------
    "impresa_edile": Firm(
        "construction",
        "Impresa edile: ristrutturazioni chiavi in mano, opere murarie, cappotto termico, "
        "rifacimento di tetti e bagni.",
        "Cerchiamo un serramentista per la fornitura e posa delle finestre e un impiantista "
        "per gli impianti elettrici dei cantieri.",
    ),
    "serramenti": Firm(
        "construction",
        "Produciamo infissi in PVC, alluminio e legno-alluminio, porte blindate e persiane; "
        "posa in opera certificata.",
        "Cerchiamo imprese di costruzioni con cui collaborare nelle ristrutturazioni per "
        "montare i nostri serramenti.",
    ),
    "impianti_elettrici": Firm(
        "construction",
        "Impianti elettrici civili e industriali, fotovoltaico con accumulo, domotica e pompe "
        "di calore.",
        "Ci servono moduli fotovoltaici e inverter a prezzi da grossista.",
    ),
    "marmi_carrara": Firm(
        "construction",
        "Estrazione e lavorazione del marmo di Carrara: blocchi, lastre, top per cucine e "
        "bagni, rivestimenti.",
        "Cerchiamo utensili diamantati e dischi da taglio per le nostre macchine a filo.",
    ),
    # --- Packaging ----------------------------------------------------------------------
    "cartotecnica": Firm(
        "packaging",
        "Scatolificio: scatole e imballaggi in cartone ondulato su misura, espositori da banco "
        "e astucci in cartoncino stampati in offset.",
        "Cerchiamo un'agenzia che progetti la grafica degli espositori per i nostri clienti.",
    ),
    "imballaggi_flessibili": Firm(
        "packaging",
        "Film plastici e buste per alimenti: sacchetti in carta accoppiata, vaschette "
        "termoformate e film barriera per il confezionamento in atmosfera modificata.",
        "Cerchiamo inchiostri da flessografia a base acqua e una ditta che ritiri gli sfridi "
        "di film per riciclarli.",
    ),
    "pallet_legno": Firm(
        "packaging",
        "Pallet nuovi e usati, casse e gabbie in legno su misura, imballaggi industriali con "
        "trattamento fitosanitario ISPM-15.",
        "Compriamo tavole di pino e abete e cerchiamo un autotrasportatore per le consegne.",
    ),
    # --- Eyewear ------------------------------------------------------------------------
    "occhialeria": Firm(
        "eyewear",
        "Produzione di montature per occhiali in acetato e metallo, da vista e da sole, per "
        "marchi propri e conto terzi nel distretto del Cadore.",
        "Cerchiamo un fornitore di cerniere flessibili e minuteria, e chi galvanizzi le "
        "montature in metallo.",
    ),
    "lenti_ottiche": Firm(
        "eyewear",
        "Laboratorio ottico: lenti oftalmiche e da sole, trattamenti antiriflesso e "
        "fotocromatici, montaggio sulle montature.",
        "Cerchiamo un produttore di occhiali con cui sviluppare una linea da sole con lenti "
        "polarizzate.",
    ),
    # --- Footwear and leather -----------------------------------------------------------
    "calzaturificio": Firm(
        "footwear",
        "Calzaturificio nelle Marche: scarpe da uomo e donna in pelle, mocassini e sneakers "
        "fatte a mano per le griffe della moda.",
        "Cerchiamo pellami conciati al vegetale per le tomaie e un suolificio per suole in "
        "gomma e cuoio.",
    ),
    "conceria": Firm(
        "leather",
        "Conceria: pelli bovine conciate al vegetale e al cromo per calzature, pelletteria e "
        "arredamento.",
        "Ci servono tannini, ingrassi e prodotti chimici per la concia, e qualcuno che tratti "
        "i nostri reflui.",
    ),
    "suolificio": Firm(
        "footwear",
        "Suolificio: suole in gomma, TR, poliuretano e cuoio, fondi per calzature e tacchi.",
        "Cerchiamo calzaturifici e produttori di scarpe a cui proporre i nostri fondi.",
    ),
    "pelletteria": Firm(
        "leather",
        "Pelletteria conto terzi: borse, cinture e portafogli in pelle per marchi del lusso.",
        "Ci serve una conceria per vitello di qualità e un fornitore di accessori metallici "
        "per borse (fibbie, moschettoni).",
    ),
    # --- Chemicals ----------------------------------------------------------------------
    "chimica_ausiliari": Firm(
        "chemicals",
        "Prodotti chimici per l'industria tessile e conciaria: ausiliari di tintura, "
        "coloranti, ammorbidenti, ingrassi e tannini per pelli.",
        "Cerchiamo tintorie e concerie disposte a provare nuovi ausiliari a basso impatto "
        "ambientale.",
    ),
    "vernici_industriali": Firm(
        "chemicals",
        "Formuliamo e produciamo vernici per legno e metallo: fondi poliuretanici, finiture "
        "all'acqua, smalti e primer anticorrosione. Laboratorio colore e assistenza tecnica.",
        "Cerchiamo fusti e cisternette IBC omologati e un consulente ADR.",
    ),
    "detergenti": Firm(
        "chemicals",
        "Produzione di detergenti professionali e sanificanti per alberghi, ristoranti e "
        "industria alimentare, a marchio proprio e per terzi.",
        "Cerchiamo hotel e lavanderie industriali a cui fornire i nostri detersivi.",
    ),
    # --- ICT ----------------------------------------------------------------------------
    "software_gestionale": Firm(
        "ict",
        "Software gestionale ERP per PMI: contabilità, fatturazione elettronica, gestione del "
        "magazzino e della produzione, app per inventario con barcode.",
        "Cerchiamo aziende manifatturiere disponibili a fare da pilota per il nuovo modulo di "
        "pianificazione.",
    ),
    "web_agency": Firm(
        "ict",
        "Agenzia web: siti internet, e-commerce multilingua, grafica e loghi, campagne social e "
        "posizionamento su Google.",
        "Ci serve un fotografo per le foto dei prodotti dei clienti.",
    ),
    "fotografo": Firm(
        "ict",
        "Studio fotografico: still life e fotografie di prodotto per cataloghi e shop online, "
        "video aziendali e riprese con drone.",
        "Vorrei rifare il mio sito web con un portfolio e farmi conoscere sui social.",
    ),
    "cybersecurity": Firm(
        "ict",
        "Sicurezza informatica per PMI: backup, firewall, penetration test, adeguamento GDPR e "
        "formazione del personale.",
        "",
    ),
    "iot_sensori": Firm(
        "ict",
        "Sensori IoT e piattaforma cloud per il monitoraggio dei consumi energetici e delle "
        "macchine, manutenzione predittiva.",
        "Cerchiamo un integratore che colleghi i nostri sensori ai PLC delle macchine dei "
        "clienti.",
    ),
    # --- Tourism and hospitality --------------------------------------------------------
    "agriturismo": Firm(
        "tourism",
        "Agriturismo in Toscana con camere, piscina e ristorante: cucina del territorio, "
        "cooking class, matrimoni ed eventi.",
        "Cerchiamo produttori locali di vino e olio da proporre agli ospiti e una cantina con "
        "cui organizzare degustazioni.",
    ),
    "hotel_garda": Firm(
        "tourism",
        "Hotel 4 stelle sul lago di Garda: 80 camere, centro congressi, spa e ristorante; "
        "convenzioni per trasferte aziendali.",
        "Cerchiamo una lavanderia industriale per lenzuola e asciugamani e un fornitore di "
        "arredi imbottiti per rinnovare le camere.",
    ),
    "lavanderia": Firm(
        "services",
        "Lavanderia industriale: noleggio e lavaggio di biancheria piana, tovagliato e divise "
        "per hotel, ristoranti e case di riposo.",
        "Ci servono detersivi professionali in grandi quantità.",
    ),
    "tour_operator": Firm(
        "tourism",
        "Tour operator incoming: viaggi di gruppo, incentive aziendali, visite guidate e "
        "transfer in pullman.",
        "Cerchiamo cantine, agriturismi e alberghi per pacchetti di turismo enogastronomico.",
    ),
    # --- Nothing to say -----------------------------------------------------------------
    "vuota": Firm("none", "", ""),
    "solo_stop_words": Firm("none", "Siamo un'azienda seria.", "Cerchiamo partner."),
}

# seeker -> firms whose offers satisfy the seeker's needs (1-3 each).
RELEVANT: dict[str, tuple[str, ...]] = {
    "imbottiti_brianza": ("tessitura_como", "verniciatura_polveri"),
    "falegnameria": ("segheria_legnami", "laccatura"),
    "segheria_legnami": ("trasporti_lombardia",),
    "laccatura": ("vernici_industriali",),
    "tessitura_como": ("filatura_lino", "finissaggio_tessile"),
    "filatura_lino": ("tessitura_como", "maglificio_carpi"),
    "finissaggio_tessile": ("chimica_ausiliari",),
    "maglificio_carpi": ("etichettificio",),
    "etichettificio": ("web_agency",),
    "confezioni_tende": ("macchine_cucire",),
    "verniciatura_polveri": ("trasporti_lombardia",),
    "tornerie_cnc": ("trattamenti_termici", "galvanica"),
    "galvanica": ("rifiuti_industriali",),
    "carpenteria": ("verniciatura_polveri",),
    "stampi_plastica": ("stampaggio_plastica",),
    "stampaggio_plastica": ("stampi_plastica", "riciclo_plastica"),
    "automazione": ("carpenteria", "tornerie_cnc"),
    "riciclo_plastica": ("stampaggio_plastica", "imballaggi_flessibili"),
    "trasporti_lombardia": ("officina_camion",),
    "magazzino_logistica": ("software_gestionale",),
    "pastificio": ("molino", "imballaggi_flessibili"),
    "molino": ("pastificio", "azienda_agricola"),
    "frantoio": ("vetreria",),
    "caseificio": ("trasporti_frigo",),
    "salumificio": ("imballaggi_flessibili", "laboratorio_analisi"),
    "pasticceria": ("cartotecnica", "web_agency"),
    "cantina_langhe": ("vetreria", "sugherificio", "tipografia"),
    "cantina_chianti": ("agriturismo",),
    "vetreria": ("cartotecnica", "pallet_legno"),
    "sugherificio": ("cantina_langhe", "cantina_chianti"),
    "ceramica_sassuolo": ("spedizioniere", "pallet_legno"),
    "smalti_ceramici": ("ceramica_sassuolo",),
    "ceramiche_artistiche": ("web_agency",),
    "impresa_edile": ("serramenti", "impianti_elettrici"),
    "serramenti": ("impresa_edile",),
    "cartotecnica": ("web_agency",),
    "imballaggi_flessibili": ("riciclo_plastica",),
    "pallet_legno": ("segheria_legnami", "trasporti_lombardia"),
    "occhialeria": ("minuteria_metallica", "galvanica"),
    "lenti_ottiche": ("occhialeria",),
    "calzaturificio": ("conceria", "suolificio"),
    "conceria": ("chimica_ausiliari", "rifiuti_industriali"),
    "suolificio": ("calzaturificio",),
    "pelletteria": ("conceria",),
    "chimica_ausiliari": ("finissaggio_tessile", "conceria"),
    "detergenti": ("hotel_garda", "lavanderia"),
    "web_agency": ("fotografo",),
    "fotografo": ("web_agency",),
    "iot_sensori": ("automazione",),
    "agriturismo": ("cantina_chianti", "azienda_agricola", "frantoio"),
    "hotel_garda": ("lavanderia", "imbottiti_brianza"),
    "lavanderia": ("detergenti",),
    "tour_operator": ("cantina_chianti", "agriturismo", "hotel_garda"),
}

# Firms whose needs or offers say nothing a model can use.
EMPTY = ("vuota", "solo_stop_words")


def reciprocal_pairs() -> list[tuple[str, str]]:
    """Return the pairs (a, b), a < b, where each firm's offers satisfy the other's needs."""
    return sorted({tuple(sorted((a, b))) for a, offers in RELEVANT.items() for b in offers
                   if a in RELEVANT.get(b, ())})


def one_sided_pairs() -> list[tuple[str, str]]:
    """Return the labelled (seeker, offerer) pairs where the offerer does not need the seeker."""
    return [(a, b) for a, offers in RELEVANT.items() for b in offers
            if a not in RELEVANT.get(b, ())]


def relevant_ranks(similarity, keys: list[str]) -> dict[str, list[int]]:
    """Return, for each labelled seeker, the 1-based ranks of its relevant firms that score.

    ``similarity[i, j]`` is how well firm ``keys[j]``'s offers satisfy firm ``keys[i]``'s
    needs. The other firms are ranked by score; ties are broken against the relevant firms
    and a relevant firm with a zero score is left out (never found).
    """
    pos = {key: i for i, key in enumerate(keys)}
    out = {}
    for seeker, wanted in RELEVANT.items():
        i = pos[seeker]
        row = [(float(similarity[i, j]), key in wanted) for j, key in enumerate(keys) if j != i]
        row.sort(key=lambda t: (-t[0], t[1]))
        out[seeker] = [r for r, (score, good) in enumerate(row, 1) if good and score > 0]
    return out


def ranking_metrics(similarity, keys: list[str], k: int = 3) -> dict[str, float]:
    """Score a needs-by-offers similarity matrix against ``RELEVANT`` (see ``relevant_ranks``).

    Returns the mean reciprocal rank of the first relevant firm (``mrr``), the share of
    seekers whose top firm is relevant (``p1``), the share of relevant firms found in the top
    ``k`` (``recall``) and the share of seekers with a relevant firm in the top ``k`` (``hit``).
    """
    mrr = p1 = recall = hit = 0.0
    for seeker, ranks in relevant_ranks(similarity, keys).items():
        if ranks:
            mrr += 1 / ranks[0]
            p1 += ranks[0] == 1
            hit += ranks[0] <= k
            recall += sum(r <= k for r in ranks) / len(RELEVANT[seeker])
    n = len(RELEVANT)
    return {"mrr": mrr / n, "p1": p1 / n, "recall": recall / n, "hit": hit / n}
